//! The OpenAPI 3 description of this API (`api/openapi.yaml`), served as written.

use actix_web::{web, HttpResponse};

const DOCUMENT: &str = include_str!("../../openapi.yaml");

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/openapi.yaml", web::get().to(document));
}

async fn document() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/yaml")
        .body(DOCUMENT)
}

#[cfg(test)]
mod tests {
    use super::DOCUMENT;

    #[test]
    fn every_route_is_described() {
        for path in [
            "/v1/endpoint/add_sip:",
            "/v1/endpoint/update_sip:",
            "/v1/endpoint/get_sip:",
            "/v1/endpoint/list_sip:",
            "/v1/endpoint/remove_sip:",
            "/v1/pcmo_make_call:",
            "/v1/piopiy/cmiuuid_cdr:",
            "/admin/v1/apps:",
            "/admin/v1/registrations:",
            "/admin/v1/trunks:",
            "/admin/v1/numbers:",
            "/admin/v1/calls:",
            "/admin/v1/users:",
            "/v1/users/{userId}/applications:",
            "/v1/users/{userId}/applications/{appId}:",
            "/v1/users/{userId}/domains:",
            "/v1/users/{userId}/domains/{domainId}:",
            "/v1/users/{userId}/domains/{domainId}/endpoints:",
            "/v1/users/{userId}/domains/{domainId}/endpoints/{endpointId}:",
            "/v1/users/{userId}/domains/{domainId}/endpoints/{endpointId}/tokens:",
            "/v1/users/{userId}/phoneNumbers:",
            "/v1/users/{userId}/phoneNumbers/{numberId}:",
            "/v1/users/{userId}/calls:",
            "/v1/users/{userId}/calls/{callId}:",
            "/v1/users/{userId}/calls/{callId}/audio:",
            "/v1/users/{userId}/calls/{callId}/dtmf:",
            "/v1/users/{userId}/calls/{callId}/gather:",
            "/v1/users/{userId}/calls/{callId}/gather/{gatherId}:",
            "/v1/users/{userId}/calls/{callId}/events:",
            "/v1/users/{userId}/calls/{callId}/recordings:",
            "/v1/users/{userId}/bridges:",
            "/v1/users/{userId}/bridges/{bridgeId}:",
            "/v1/users/{userId}/bridges/{bridgeId}/calls:",
            "/v1/users/{userId}/bridges/{bridgeId}/audio:",
            "/v1/users/{userId}/recordings:",
            "/v1/users/{userId}/recordings/{recordingId}:",
            "/v1/users/{userId}/media/{name}:",
            "/v1/call/action:",
            "/v3/voice/pcmo/transfer:",
            "/v3/voice/call/hangup:",
            "/admin/v1/tokens:",
            "/mediaservice/{domain}/placeremotecalljwt:",
            "/mediaservice/{domain}/answerremotecalljwt:",
            "/mediaservice/{domain}/sendremotecallringbackjwt:",
            "/mediaservice/{domain}/hangupcalljwt:",
            "/admin/v1/cloudua/domains:",
            "/health:",
            "/metrics:",
        ] {
            assert!(DOCUMENT.contains(path), "{path} missing from openapi.yaml");
        }
    }
}
