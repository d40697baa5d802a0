//! The OpenAPI 3.1 document, generated from the handlers' annotations.

use crate::rbac::{self, Access};
use crate::routes;
use utoipa::openapi::extensions::ExtensionsBuilder;
use utoipa::openapi::header::{Header, HeaderBuilder};
use utoipa::openapi::path::{Operation, Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{
    ContentBuilder, Object, ObjectBuilder, Ref, RefOr, Required, Response, ResponseBuilder, Type,
};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "Croupier", description = "Provably fair gaming platform API. Amounts are integers in minor units; errors are RFC 9457 problem details with a stable `code`."),
    paths(
        routes::auth::register, routes::auth::login, routes::auth::open_session, routes::auth::logout, routes::auth::logout_all,
        routes::auth::change_password, routes::auth::me,
        routes::wallets::list, routes::wallets::currencies, routes::wallets::claim, routes::wallets::transactions,
        routes::admin::adjust, routes::admin::audit, routes::admin::block, routes::admin::unblock,
        routes::games::list, routes::games::patch, routes::bets::place_bet,
        routes::mines::open, routes::mines::get, routes::mines::reveal, routes::mines::cash_out,
        routes::fairness::seeds, routes::fairness::rotate, routes::fairness::verify,
        routes::bets::list, routes::bets::recent, routes::bets::get,
        routes::stats::me, routes::stats::game,
        routes::missions::me, routes::missions::list, routes::missions::put, routes::missions::delete,
        routes::dead_letters::list, routes::dead_letters::redrive,
        routes::console::players, routes::console::player, routes::console::audit_log, routes::console::overview,
        crate::ws::connect,
        routes::recommendations::me,
    ),
    components(schemas(crate::error::Problem)),
    modifiers(&BearerAuth, &Contract),
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
        // Browsers: `POST /v1/auth/session` sets it; changes need X-CSRF-Token.
        components.add_security_scheme(
            "cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(
                crate::cookie::SESSION_COOKIE,
            ))),
        );
    }
}

/// Completes every operation from what the server does to all of them, so
/// no annotation can forget it:
/// - security, 401 (with `WWW-Authenticate: Bearer`) and 403 from the
///   [`rbac`] table, and the role in `x-required-role`;
/// - 400 wherever something is parsed (a body, parameters, headers),
///   413 and 415 wherever there is a body;
/// - the `Idempotency-Key` header, with its bounds, on every route that
///   honours it ([`honours_idempotency_key`]);
/// - 404 wherever a path parameter names something;
/// - 429 (`[http.rate_limits]`) and 503 (load shedding, the read deadline).
///
/// An operation's own answer for a status wins; the shared one only fills gaps.
struct Contract;

const SHARED: &[(&str, &str, &str)] = &[
    ("400", "BadRequest", "malformed_json, invalid_query, invalid_path, invalid_idempotency_key, duplicate_authorization"),
    ("401", "Unauthorized", "unauthorized: no valid bearer token (revoked, expired or absent)"),
    ("403", "Forbidden", "forbidden: the caller's role does not allow this"),
    ("404", "NotFound", "not_found: nothing with this identifier"),
    ("409", "IdempotencyInProgress", "idempotency_in_progress: a request with this Idempotency-Key is still running"),
    ("413", "PayloadTooLarge", "payload_too_large: the body is over `http.body_limit_bytes`"),
    ("415", "UnsupportedMediaType", "unsupported_media_type: the body is not `application/json`"),
    ("422", "Unprocessable", "unknown_field, missing_field, invalid_field: the body does not fit the schema; idempotency_key_reused: this Idempotency-Key came with another request"),
    ("429", "RateLimited", "rate_limited: over the route class's quota"),
    ("503", "Overloaded", "overloaded: too many requests in progress on this instance; or timeout: the request took longer than the server's limit; or unavailable: storage is unreachable"),
];

/// Mutating routes replay their first answer for a repeated `Idempotency-Key`,
/// except login and session (their answer is a secret) and verify (it
/// changes nothing).
pub fn honours_idempotency_key(method: &str, path: &str) -> bool {
    matches!(method, "POST" | "PUT" | "PATCH" | "DELETE")
        && !matches!(
            path,
            "/v1/auth/login" | "/v1/auth/session" | "/v1/fairness/verify"
        )
}

impl Modify for Contract {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        for (_, name, description) in SHARED {
            components
                .responses
                .insert((*name).into(), RefOr::T(shared_response(name, description)));
        }
        for (path, item) in openapi.paths.paths.iter_mut() {
            let operations = [
                ("GET", &mut item.get),
                ("PUT", &mut item.put),
                ("POST", &mut item.post),
                ("DELETE", &mut item.delete),
                ("PATCH", &mut item.patch),
            ];
            for (method, op) in operations {
                if let Some(op) = op {
                    complete(method, path, op);
                }
            }
        }
    }
}

fn complete(method: &str, path: &str, op: &mut Operation) {
    let access = rbac::access(&method.parse().expect("an HTTP method"), path);
    if honours_idempotency_key(method, path) {
        let params = op.parameters.get_or_insert_with(Vec::new);
        params.retain(|p| !p.name.eq_ignore_ascii_case("idempotency-key"));
        params.push(idempotency_key_param());
    }
    enumerate_parameters(path, op);
    let has_body = op.request_body.is_some();
    let has_params = op.parameters.as_ref().is_some_and(|p| !p.is_empty());
    let has_path_params = path.contains('{');
    let mut wanted = vec!["429", "503"];
    if has_body {
        wanted.extend(["413", "415", "422"]);
    }
    if honours_idempotency_key(method, path) {
        wanted.extend(["409", "422"]);
    }
    if has_body || has_params || access > Access::Anyone {
        wanted.push("400");
    }
    if has_path_params {
        wanted.push("404");
    }
    if access > Access::Anyone {
        op.security = Some(vec![SecurityRequirement::new(
            "bearer",
            Vec::<String>::new(),
        )]);
        wanted.push("401");
        op.extensions.get_or_insert_with(Default::default).merge(
            ExtensionsBuilder::new()
                .add("x-required-role", access.as_str())
                .build(),
        );
    } else {
        op.security = None;
    }
    if access > Access::Player {
        wanted.push("403");
    }
    for status in wanted {
        let (_, component, code) = SHARED
            .iter()
            .find(|(s, _, _)| *s == status)
            .expect("shared");
        match op.responses.responses.get_mut(status) {
            // The operation's own answer names its codes; add the shared ones
            // it did not name (e.g. `rate_limited` beside `too_many_attempts`).
            // 401, 403 and 404 are the operation's own to describe.
            Some(RefOr::T(own)) => {
                let shared_code = code.split(':').next().unwrap_or(code);
                let own_only = matches!(status, "401" | "403" | "404");
                if !own_only && !own.description.contains(shared_code) {
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

/// Parameters whose values this build knows name them: games and consumers;
/// currencies have the shape of a currency code.
fn enumerate_parameters(path: &str, op: &mut Operation) {
    use croupier_fair::Game;
    for p in op.parameters.iter_mut().flatten() {
        if p.name == "currency" {
            let code = ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some("^[A-Z0-9]{2,10}$"));
            p.schema = Some(code.into());
            continue;
        }
        let values: Vec<&str> = match p.name.as_str() {
            // Mines is played in rounds, not single bets.
            "game" if path == "/v1/games/{game}/bets" => Game::ALL
                .iter()
                .filter(|g| **g != Game::Mines)
                .map(|g| g.as_str())
                .collect(),
            "game" => Game::ALL.iter().map(|g| g.as_str()).collect(),
            "consumer" => croupier_core::dead_letters::CONSUMERS.to_vec(),
            _ => continue,
        };
        let schema = ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(values));
        p.schema = Some(schema.into());
    }
}

fn shared_response(name: &str, description: &str) -> Response {
    let problem = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("Problem")))
        .build();
    let mut r = ResponseBuilder::new()
        .description(description)
        .content(crate::error::PROBLEM_JSON, problem);
    match name {
        "RateLimited" => {
            r = r
                .header("Retry-After", int_header("Seconds until a request fits"))
                .header("RateLimit-Limit", int_header("The quota (burst size)"))
                .header("RateLimit-Remaining", int_header("Requests left now"))
                .header(
                    "RateLimit-Reset",
                    int_header("Seconds until the whole quota is available again"),
                );
        }
        "Overloaded" => {
            r = r.header("Retry-After", int_header("Seconds to wait before retrying"));
        }
        "Unauthorized" => {
            r = r.header(
                "WWW-Authenticate",
                HeaderBuilder::new()
                    .schema(Object::with_type(Type::String))
                    .description(Some("`Bearer realm=\"croupier\"`"))
                    .build(),
            );
        }
        _ => {}
    }
    r.build()
}

fn int_header(description: &str) -> Header {
    HeaderBuilder::new()
        .schema(Object::with_type(Type::Integer))
        .description(Some(description))
        .build()
}

fn idempotency_key_param() -> Parameter {
    let schema = ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(255))
        .pattern(Some("^[\\x21-\\x7E]+$"));
    ParameterBuilder::new()
        .name("Idempotency-Key")
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(
            "Makes the request safely retryable: a repeat with the same key and request gets the first answer (header `idempotent-replayed: true`); with another request, 422 `idempotency_key_reused`; while the first still runs, 409 `idempotency_in_progress`. 1-255 visible ASCII characters.",
        ))
        .schema(Some(schema))
        .build()
}

/// The document as served: [`document`], with every free-form object (a
/// game's `params`, an outcome, a problem's extra members) saying so with
/// `additionalProperties: true`, so generated clients accept their members.
pub fn document_json() -> &'static serde_json::Value {
    static DOC: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc = serde_json::to_value(document()).expect("the document serializes");
        open_free_form_objects(&mut doc);
        doc
    })
}

fn open_free_form_objects(v: &mut serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::Object(m) => {
            let object = m.get("type") == Some(&Value::from("object"));
            let shaped = [
                "properties",
                "additionalProperties",
                "allOf",
                "oneOf",
                "anyOf",
                "$ref",
            ]
            .iter()
            .any(|k| m.contains_key(*k));
            if object && !shaped {
                m.insert("additionalProperties".into(), Value::Bool(true));
            }
            m.values_mut().for_each(open_free_form_objects);
        }
        Value::Array(items) => items.iter_mut().for_each(open_free_form_objects),
        _ => {}
    }
}

pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    // Keep the snapshot stable across releases: the version lives in Cargo.toml.
    doc.info.version = "v1".into();
    doc
}
