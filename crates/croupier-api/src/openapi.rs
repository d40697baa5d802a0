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
    modifiers(&BearerAuth),
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

pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    // Keep the snapshot stable across releases: the version lives in Cargo.toml.
    doc.info.version = "v1".into();
    doc
}
