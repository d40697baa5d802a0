//! The OpenAPI 3.1 document, generated from the handlers' annotations.

use crate::routes;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "Croupier", description = "Provably fair gaming platform API. Amounts are integers in minor units; errors are RFC 9457 problem details with a stable `code`."),
    paths(
        routes::auth::register, routes::auth::login, routes::auth::logout, routes::auth::logout_all,
        routes::auth::change_password, routes::auth::me,
        routes::wallets::list, routes::wallets::claim, routes::wallets::transactions,
        routes::admin::adjust, routes::admin::audit, routes::admin::block, routes::admin::unblock,
        routes::games::list, routes::games::place_bet, routes::games::patch,
        routes::mines::open, routes::mines::get, routes::mines::reveal, routes::mines::cash_out,
        routes::fairness::seeds, routes::fairness::rotate, routes::fairness::verify,
        routes::bets::list, routes::bets::recent, routes::bets::get,
        routes::stats::me, routes::stats::game,
        routes::missions::me, routes::missions::list, routes::missions::put, routes::missions::delete,
        routes::dead_letters::list, routes::dead_letters::redrive,
        crate::ws::connect,
        routes::recommendations::me,
    ),
    components(schemas(crate::error::Problem)),
    modifiers(&BearerAuth, &ServerLimits),
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Every API route may answer 429 `rate_limited` (`[http.rate_limits]`) and
/// 503 `overloaded` (load shedding) or `timeout` (`http.request_timeout_ms`): shared responses in the components,
/// referenced by operations that document no 429/503 of their own; those
/// that do get the code added to the description.
struct ServerLimits;

impl Modify for ServerLimits {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::header::HeaderBuilder;
        use utoipa::openapi::{ContentBuilder, Object, Ref, RefOr, ResponseBuilder, Type};
        let problem = || {
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build()
        };
        let int_header = |description: &str| {
            HeaderBuilder::new()
                .schema(Object::with_type(Type::Integer))
                .description(Some(description))
                .build()
        };
        let rate_limited = ResponseBuilder::new()
            .description("rate_limited: over the route class's quota")
            .content(crate::error::PROBLEM_JSON, problem())
            .header("Retry-After", int_header("Seconds until a request fits"))
            .header("RateLimit-Limit", int_header("The quota (burst size)"))
            .header("RateLimit-Remaining", int_header("Requests left now"))
            .header(
                "RateLimit-Reset",
                int_header("Seconds until the whole quota is available again"),
            )
            .build();
        let overloaded = ResponseBuilder::new()
            .description(
                "overloaded: too many requests in progress on this instance; \
                 or timeout: the request took longer than the server's limit",
            )
            .content(crate::error::PROBLEM_JSON, problem())
            .header("Retry-After", int_header("Seconds to wait before retrying"))
            .build();
        let components = openapi.components.get_or_insert_with(Default::default);
        components
            .responses
            .insert("RateLimited".into(), RefOr::T(rate_limited));
        components
            .responses
            .insert("Overloaded".into(), RefOr::T(overloaded));
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for op in operations.into_iter().flatten() {
                for (status, code, component) in [
                    ("429", "rate_limited", "RateLimited"),
                    ("503", "overloaded or timeout", "Overloaded"),
                ] {
                    match op.responses.responses.get_mut(status) {
                        Some(RefOr::T(own)) => {
                            if !own.description.contains(code) {
                                own.description = format!("{}; or {code}", own.description);
                            }
                        }
                        Some(RefOr::Ref(_)) => {}
                        None => {
                            op.responses.responses.insert(
                                status.into(),
                                RefOr::Ref(Ref::new(format!("#/components/responses/{component}"))),
                            );
                        }
                    }
                }
            }
        }
    }
}

pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    // Keep the snapshot stable across releases: the version lives in Cargo.toml.
    doc.info.version = "v1".into();
    doc
}
