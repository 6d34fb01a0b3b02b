//! SessionService: operators sign in and out (see `crate::authz` for what a session
//! allows).

use super::*;
use crate::authz::{Caller, Identity, bearer_of, operator_status, unauthenticated};

/// A caller as the API shows its session.
fn session(c: &Caller) -> pb::Session {
    let roles = c.roles.iter().map(|r| convert::role(r) as i32).collect();
    match &c.identity {
        Identity::Operator(s) => pb::Session {
            name: format!("sessions/{}", s.id),
            operator_id: s.operator_id.clone(),
            operator_name: s.operator_name.clone(),
            roles,
            start_time: Some(rekam_api::timestamp(s.start_time)),
            expire_time: Some(rekam_api::timestamp(s.expire_time)),
        },
        Identity::Local { uid } => pb::Session {
            name: "sessions/local".into(),
            operator_id: c.operator_id(),
            operator_name: format!("the station's local user (uid {uid})"),
            roles,
            start_time: None,
            expire_time: None,
        },
    }
}

#[tonic::async_trait]
impl pb::session_service_server::SessionService for Shared {
    async fn sign_in(
        &self,
        req: Request<pb::SignInRequest>,
    ) -> Result<Response<pb::SignInResponse>, Status> {
        let r = req.into_inner();
        if r.operator_id.is_empty() {
            return Err(status::invalid("operator_id", "is missing"));
        }
        let sessions = self.sessions.clone();
        // Argon2 takes tens of milliseconds of CPU: off the async workers.
        let (token, s) =
            rekam_enrollment::cpu::run(move || sessions.sign_in(&r.operator_id, &r.pin))
                .await
                .map_err(|e| status::enrollment(&e))?
                .map_err(|e| {
                    tracing::info!(reason = e.reason(), "sign-in refused");
                    operator_status(&e)
                })?;
        tracing::info!(operator = %s.operator_id, session = %s.id, roles = %s.roles, "signed in");
        let subject = format!("operators/{}", s.operator_id);
        let caller = Caller {
            roles: s.roles,
            identity: Identity::Operator(s),
        };
        Ok(about(
            Response::new(pb::SignInResponse {
                session: Some(session(&caller)),
                token,
            }),
            &subject,
        ))
    }

    async fn get_session(
        &self,
        req: Request<pb::GetSessionRequest>,
    ) -> Result<Response<pb::Session>, Status> {
        match req.extensions().get::<Caller>() {
            Some(c) => Ok(Response::new(session(c))),
            None => Err(unauthenticated(
                "no session: sign in first (SessionService.SignIn)",
            )),
        }
    }

    async fn sign_out(
        &self,
        req: Request<pb::SignOutRequest>,
    ) -> Result<Response<pb::SignOutResponse>, Status> {
        let token = bearer_of(req.metadata())
            .ok_or_else(|| unauthenticated("the call carries no session token to sign out"))?;
        let s = self
            .sessions
            .sign_out(&token)
            .map_err(|e| operator_status(&e))?;
        tracing::info!(operator = %s.operator_id, session = %s.id, "signed out");
        Ok(Response::new(pb::SignOutResponse {}))
    }
}
