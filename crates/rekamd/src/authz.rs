//! Who is calling, and whether they may: the call's identity (a signed-in operator's
//! session, or the station's own local user on the Unix socket) and the table of the roles
//! each method allows. [`Authz`] sits innermost in the edge, after gRPC-Web translation,
//! so native and browser calls meet the same rules; the services find the [`Caller`] in
//! the request's extensions.

use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use http::{Request, Response};
use rekam_operators::{OperatorError, Role, Roles, Session, Sessions};
use tonic::body::Body;
use tonic::transport::server::UdsConnectInfo;
use tonic::{Code, Status};
use tower::Service;
use tracing::info;

use crate::access::RefusalLog;
use crate::edge::Listener;
use crate::status::ApiError;

/// Who a call runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// A signed-in operator.
    Operator(Session),
    /// The station's own local user (Unix socket, no token, sign-in not required): the
    /// uid the peer credentials name.
    Local {
        /// The peer's uid.
        uid: u32,
    },
}

/// The caller of a call, as the services see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Who.
    pub identity: Identity,
    /// What they may do.
    pub roles: Roles,
}

impl Caller {
    /// The operator's id as histories record it: the operator id, or `local:<uid>`.
    pub fn operator_id(&self) -> String {
        match &self.identity {
            Identity::Operator(s) => s.operator_id.clone(),
            Identity::Local { uid } => format!("local:{uid}"),
        }
    }

    /// Whether the caller holds `role`.
    pub fn has(&self, role: Role) -> bool {
        self.roles.has(role)
    }
}

/// What a method needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Nothing: health, reflection, signing in.
    Public,
    /// A caller with any of these roles.
    AnyOf(&'static [Role]),
}

const OFFICE: &[Role] = &[Role::Officer, Role::Supervisor];
const SUPERVISOR: &[Role] = &[Role::Supervisor];
const TECHNICIAN: &[Role] = &[Role::Technician];
const OUTBOX: &[Role] = &[Role::Technician, Role::Supervisor];
const AUDITORS: &[Role] = &[Role::Supervisor, Role::HeadOfOffice];
const COMPLAINTS: &[Role] = &[Role::Officer, Role::Supervisor, Role::HeadOfOffice];
const ANYONE: &[Role] = &[
    Role::Officer,
    Role::Supervisor,
    Role::Technician,
    Role::HeadOfOffice,
];
const DEVICE_READERS: &[Role] = &[Role::Officer, Role::Supervisor, Role::Technician];

/// The roles a method (`/package.Service/Method`) allows; see `SessionService` in
/// `proto/rekam/v1/sessions.proto` for the rules in words.
pub fn need(path: &str) -> Need {
    let path = path.trim_start_matches('/');
    let (service, method) = path.split_once('/').unwrap_or((path, ""));
    match (service, method) {
        ("grpc.health.v1.Health", _)
        | ("grpc.reflection.v1.ServerReflection", _)
        | ("grpc.reflection.v1alpha.ServerReflection", _)
        | ("rekam.v1.SessionService", _) => Need::Public,
        ("rekam.v1.EnrollmentService", "CancelEnrollment" | "ReprintCard" | "ReencodeCard") => {
            Need::AnyOf(SUPERVISOR)
        }
        ("rekam.v1.EnrollmentService", "ListDeliveries") => Need::AnyOf(OUTBOX),
        ("rekam.v1.EnrollmentService", "VerifyEnrollment")
        | ("rekam.v1.AuditService", _)
        | ("rekam.v1.ReportService", _) => Need::AnyOf(AUDITORS),
        // Each action's level decides further (rekam-complaints).
        ("rekam.v1.ComplaintService", _) => Need::AnyOf(COMPLAINTS),
        ("rekam.v1.EnrollmentService", _) => Need::AnyOf(OFFICE),
        ("rekam.v1.DeviceService", "ListDevices" | "WatchDevices")
        | ("rekam.v1.PrinterService", "GetSupplies")
        | ("rekam.v1.EncoderService", "GetCardStatus") => Need::AnyOf(DEVICE_READERS),
        (
            "rekam.v1.DeviceService"
            | "rekam.v1.PrinterService"
            | "rekam.v1.EncoderService"
            | "rekam.v1.CameraService"
            | "rekam.v1.IrisService"
            | "rekam.v1.FingerprintService"
            | "rekam.v1.SignatureService"
            | "rekam.v1.SimulationService",
            _,
        ) => Need::AnyOf(TECHNICIAN),
        // Anything else answers UNIMPLEMENTED, to a caller the daemon knows.
        _ => Need::AnyOf(ANYONE),
    }
}

/// The token of an `authorization` value `Bearer <token>`.
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// The bearer token of a request's `authorization` metadata.
pub fn bearer<B>(req: &Request<B>) -> Option<&str> {
    bearer_token(
        req.headers()
            .get(http::header::AUTHORIZATION)?
            .to_str()
            .ok()?,
    )
}

/// The bearer token of a call's metadata, as the services see it.
pub fn bearer_of(md: &tonic::metadata::MetadataMap) -> Option<String> {
    bearer_token(md.get("authorization")?.to_str().ok()?).map(str::to_string)
}

/// The rules of one listener.
#[derive(Clone)]
pub struct AuthzPolicy {
    /// The station's sessions.
    pub sessions: Arc<Sessions>,
    /// Which listener.
    pub listener: Listener,
    /// `[access] require_sign_in`: the local user too must sign in.
    pub require_sign_in: bool,
    /// Refusals, counted and logged at a bounded rate.
    pub refusals: Arc<RefusalLog>,
    /// The audit log of calls on personal data; `None` records nothing.
    pub auditor: Option<crate::audit::Auditor>,
}

impl std::fmt::Debug for AuthzPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthzPolicy")
            .field("listener", &self.listener)
            .field("require_sign_in", &self.require_sign_in)
            .finish_non_exhaustive()
    }
}

impl AuthzPolicy {
    /// Who the request comes from; `Err` when it must sign in (or its session is gone).
    pub fn caller<B>(&self, req: &Request<B>) -> Result<Caller, Status> {
        if let Some(token) = bearer(req) {
            return match self.sessions.session(token) {
                Ok(s) => Ok(Caller {
                    roles: s.roles,
                    identity: Identity::Operator(s),
                }),
                Err(e) => Err(operator_status(&e)),
            };
        }
        let local = req
            .extensions()
            .get::<UdsConnectInfo>()
            .and_then(|c| c.peer_cred.as_ref())
            .map(|c| c.uid());
        match (self.listener, local) {
            (Listener::Unix, Some(uid)) if !self.require_sign_in => Ok(Caller {
                identity: Identity::Local { uid },
                roles: Roles::all(),
            }),
            _ => Err(unauthenticated(match self.listener {
                Listener::Tcp => {
                    "sign in first (SessionService.SignIn): every call over TCP needs a session (authorization: Bearer <token>)"
                }
                Listener::Unix => {
                    "sign in first (SessionService.SignIn): this station requires a session on every call ([access] require_sign_in)"
                }
            })),
        }
    }
}

/// UNAUTHENTICATED with its reason.
pub fn unauthenticated(message: &str) -> Status {
    ApiError::new(Code::Unauthenticated, "UNAUTHENTICATED", message).into_status()
}

/// The status of an operator or session error.
pub fn operator_status(e: &OperatorError) -> Status {
    let code = match e {
        OperatorError::File { .. } => Code::Unavailable,
        OperatorError::UnknownOperator(_)
        | OperatorError::BadCredentials
        | OperatorError::NoSession => Code::Unauthenticated,
        OperatorError::Exists(_) | OperatorError::Invalid { .. } => Code::InvalidArgument,
        OperatorError::Disabled(_) => Code::PermissionDenied,
        OperatorError::Locked { .. } => Code::ResourceExhausted,
    };
    let mut a = ApiError::new(code, e.reason(), e.to_string());
    if let OperatorError::Locked { seconds, .. } = e {
        a = a.with("retry_after_seconds", seconds.to_string());
    }
    a.into_status()
}

/// PERMISSION_DENIED (ROLE_REQUIRED): the caller lacks every role that would do.
pub fn role_required(what: &str, roles: &[Role]) -> Status {
    let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
    ApiError::new(
        Code::PermissionDenied,
        "ROLE_REQUIRED",
        format!("{what} needs the role {}", names.join(" or ")),
    )
    .with("roles", names.join(","))
    .into_status()
}

/// The authorisation service: finds the caller, checks the method's roles, and hands the
/// [`Caller`] to the service in the request's extensions.
#[derive(Clone)]
pub struct Authz<S> {
    /// The services.
    pub inner: S,
    /// The rules; `None` lets everything through (unit tests of the edge alone).
    pub policy: Option<AuthzPolicy>,
}

impl<S> Service<Request<Body>> for Authz<S>
where
    S: Service<Request<Body>, Response = Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Response<Body>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<Body>) -> Self::Future {
        let mut audit = None;
        if let Some(policy) = &self.policy {
            let path = req.uri().path().to_string();
            let need = need(&path);
            let caller = policy.caller(&req);
            if let Some(auditor) = policy
                .auditor
                .clone()
                .filter(|_| crate::audit::audited(&path))
            {
                let (operator, session) = match &caller {
                    Ok(c) => (
                        c.operator_id(),
                        match &c.identity {
                            Identity::Operator(s) => s.id.clone(),
                            Identity::Local { .. } => String::new(),
                        },
                    ),
                    Err(_) => ("-".to_string(), String::new()),
                };
                audit = Some((
                    auditor,
                    rekam_store::AuditEntry {
                        time_ms: crate::audit::now_ms(),
                        operator,
                        session,
                        method: path.trim_start_matches('/').to_string(),
                        subject: String::new(),
                        outcome: String::new(),
                    },
                ));
            }
            let verdict = match (&need, caller) {
                (Need::Public, Ok(c)) => Ok(Some(c)),
                (Need::Public, Err(_)) => Ok(None),
                (Need::AnyOf(roles), Ok(c)) if c.roles.any(roles) => Ok(Some(c)),
                (Need::AnyOf(roles), Ok(c)) => {
                    let who = c.operator_id();
                    Err((role_required(&path, roles), who))
                }
                (Need::AnyOf(_), Err(s)) => Err((s, "-".to_string())),
            };
            match verdict {
                Ok(Some(c)) => {
                    req.extensions_mut().insert(c);
                }
                Ok(None) => {}
                Err((status, who)) => {
                    let code = status.code();
                    policy.refusals.refused(|unlogged| {
                        info!(path = %path, operator = %who, code = ?code, unlogged,
                            "refused a call");
                    });
                    return Box::pin(async move {
                        if let Some((auditor, mut entry)) = audit {
                            entry.outcome = rekam_api::code_name(code).to_string();
                            auditor.record(entry).await;
                        }
                        Ok(status.into_http())
                    });
                }
            }
        }
        let mut inner = crate::edge::take_ready(&mut self.inner);
        let fut = inner.call(req);
        Box::pin(async move {
            let res = fut.await?;
            if let Some((auditor, mut entry)) = audit {
                entry.outcome = crate::audit::outcome(res.headers());
                if let Some(s) = res.extensions().get::<crate::audit::Subject>() {
                    entry.subject = s.0.clone();
                }
                auditor.record(entry).await;
            }
            Ok(res)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_method_table() {
        assert_eq!(need("/grpc.health.v1.Health/Check"), Need::Public);
        assert_eq!(need("/rekam.v1.SessionService/SignIn"), Need::Public);
        assert_eq!(
            need("/rekam.v1.EnrollmentService/Print"),
            Need::AnyOf(OFFICE)
        );
        assert_eq!(
            need("/rekam.v1.EnrollmentService/ReprintCard"),
            Need::AnyOf(SUPERVISOR)
        );
        assert_eq!(
            need("/rekam.v1.SimulationService/InjectFault"),
            Need::AnyOf(TECHNICIAN)
        );
        assert_eq!(
            need("/rekam.v1.EncoderService/ReadFiles"),
            Need::AnyOf(TECHNICIAN)
        );
        assert_eq!(
            need("/rekam.v1.DeviceService/ListDevices"),
            Need::AnyOf(DEVICE_READERS)
        );
        assert_eq!(need("/x.Y/Z"), Need::AnyOf(ANYONE));
    }

    #[test]
    fn bearer_tokens() {
        let req = |v: &str| {
            Request::builder()
                .header(http::header::AUTHORIZATION, v)
                .body(())
                .unwrap()
        };
        assert_eq!(bearer(&req("Bearer abc")), Some("abc"));
        assert_eq!(bearer(&req("bearer  abc ")), Some("abc"));
        assert_eq!(bearer(&req("Basic abc")), None);
        assert_eq!(bearer(&req("Bearer ")), None);
        assert_eq!(bearer(&Request::new(())), None);
    }
}
