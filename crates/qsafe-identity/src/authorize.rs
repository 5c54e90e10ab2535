//! The authorization endpoint (RFC 6749 §3.1, §4.1; OpenID Connect Core §3.1.2) with PKCE
//! (RFC 7636, `S256` only, required of every client) and the login page: `GET authorize` checks
//! the client and its exact redirect URI, then shows a sign-in form naming the client and the
//! scopes it asks for; `POST authorize` checks the password and redirects to the client with a
//! one-time code (60 s). Nothing is ever redirected to a URI the client did not register.

use qsafe_core::fields::field_str;
use qsafe_core::record;
use qsafe_core::{RawBody, Response, Result};
use qsafe_crypto::encoding::b64url_encode;
use qsafe_crypto::hash;
use qsafe_store::{Expect, View, Write};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use zeroize::Zeroizing;

use crate::client::ClientRecord;
use crate::provider::Provider;
use crate::user::{self, UserRecord};
use crate::{FORMAT, Identity, now};

/// `oidc/codes/<hex SHA-256 of the code>`.
pub(crate) const CODE_PREFIX: &str = "oidc/codes/";
/// How long a code may wait for its exchange.
const CODE_TTL: i64 = 60;

/// A stored authorization code.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct CodeRecord {
    pub(crate) version: u32,
    pub(crate) client_id: String,
    pub(crate) redirect_uri: String,
    pub(crate) user: String,
    pub(crate) scope: String,
    pub(crate) nonce: Option<String>,
    pub(crate) code_challenge: String,
    pub(crate) expires_at: i64,
    pub(crate) auth_time: i64,
    /// Set when exchanged: a second exchange revokes what the first one issued.
    #[serde(default)]
    pub(crate) used: bool,
    /// The access token ids and refresh family the exchange issued.
    #[serde(default)]
    pub(crate) issued_jtis: Vec<(String, i64)>,
    #[serde(default)]
    pub(crate) family: Option<String>,
}

/// The key of code `code`.
pub(crate) fn code_key(code: &str) -> String {
    format!(
        "{CODE_PREFIX}{}",
        hex::encode(hash::sha256(code.as_bytes()))
    )
}

/// A checked authorization request.
struct AuthRequest {
    client: std::sync::Arc<ClientRecord>,
    redirect_uri: String,
    scope: Vec<String>,
    state: Option<String>,
    nonce: Option<String>,
    code_challenge: String,
}

/// Either an HTML page (an error that cannot go back to the client) or a redirect to the
/// client with an error.
enum Refusal {
    Page(String),
    Redirect(Response),
}

fn param<'a>(data: Option<&'a Value>, name: &str) -> Option<&'a str> {
    field_str(data, name)
        .ok()
        .flatten()
        .filter(|s| !s.is_empty())
}

/// Checks the request's parameters (the same on GET and POST).
async fn check(
    engine: &Identity,
    view: &View,
    provider: &Provider,
    data: Option<&Value>,
) -> std::result::Result<AuthRequest, Refusal> {
    let page = |m: &str| Refusal::Page(m.to_owned());
    let client_id = param(data, "client_id").ok_or_else(|| page("client_id is missing"))?;
    let client = engine
        .clients
        .by_id(view, client_id)
        .await
        .map_err(|_| page("the request could not be served"))?
        .ok_or_else(|| page("unknown client"))?;
    if !provider.record.allows(&client.client_id) {
        return Err(page("this provider does not serve the client"));
    }
    let redirect_uri =
        param(data, "redirect_uri").ok_or_else(|| page("redirect_uri is missing"))?;
    if !client.redirect_uris.iter().any(|r| r == redirect_uri) {
        return Err(page("redirect_uri is not registered for this client"));
    }
    let state = param(data, "state").map(str::to_owned);
    let back = |code: &str, why: &str| {
        Refusal::Redirect(redirect(
            redirect_uri,
            &[("error", code), ("error_description", why)],
            state.as_deref(),
        ))
    };
    if param(data, "response_type") != Some("code") {
        return Err(back(
            "unsupported_response_type",
            "response_type must be code",
        ));
    }
    if !client.grant_types.iter().any(|g| g == "authorization_code") {
        return Err(back(
            "unauthorized_client",
            "the client may not use the code flow",
        ));
    }
    let scope: Vec<String> = param(data, "scope")
        .unwrap_or_default()
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if !scope.iter().any(|s| s == "openid") {
        return Err(back("invalid_scope", "scope must include openid"));
    }
    let known = ["openid", "profile", "email", "groups"];
    if let Some(bad) = scope.iter().find(|s| {
        !known.contains(&s.as_str()) && !provider.record.scopes_supported.contains(s)
            || (!client.scopes.is_empty() && s.as_str() != "openid" && !client.scopes.contains(s))
    }) {
        return Err(back(
            "invalid_scope",
            &format!("scope {bad:?} is not allowed"),
        ));
    }
    let challenge = param(data, "code_challenge").ok_or_else(|| {
        back(
            "invalid_request",
            "PKCE is required: code_challenge is missing",
        )
    })?;
    if param(data, "code_challenge_method") != Some("S256") {
        return Err(back(
            "invalid_request",
            "code_challenge_method must be S256",
        ));
    }
    if challenge.len() != 43
        || qsafe_crypto::encoding::b64url_decode("challenge", challenge).is_err()
    {
        return Err(back(
            "invalid_request",
            "code_challenge is not a base64url SHA-256",
        ));
    }
    Ok(AuthRequest {
        client,
        redirect_uri: redirect_uri.to_owned(),
        scope,
        state,
        nonce: param(data, "nonce").map(str::to_owned),
        code_challenge: challenge.to_owned(),
    })
}

/// `uri` with `params` (and `state`) added to its query, as a 302.
fn redirect(uri: &str, params: &[(&str, &str)], state: Option<&str>) -> Response {
    let mut pairs: Vec<(&str, &str)> = params.to_vec();
    if let Some(s) = state {
        pairs.push(("state", s));
    }
    let query = serde_urlencoded::to_string(&pairs).unwrap_or_default();
    let sep = if uri.contains('?') { '&' } else { '?' };
    let raw = RawBody::new("text/plain; charset=utf-8", Vec::new())
        .with_status(302)
        .with_header("location", format!("{uri}{sep}{query}"))
        .with_header("cache-control", "no-store");
    Response {
        raw: Some(raw),
        ..Response::default()
    }
}

/// `GET authorize`: the login page, or why there is none.
pub(crate) async fn show(
    engine: &Identity,
    view: &View,
    provider: &Provider,
    data: Option<&Value>,
) -> Result<Response> {
    Ok(match check(engine, view, provider, data).await {
        Ok(req) => login_page(&req, None, 200),
        Err(Refusal::Page(why)) => error_page(&why),
        Err(Refusal::Redirect(r)) => r,
    })
}

/// `POST authorize`: the sign-in; a code for the client, or the page again with the reason.
pub(crate) async fn submit(
    engine: &Identity,
    view: &View,
    provider: &Provider,
    data: Option<&Value>,
) -> Result<Response> {
    let req = match check(engine, view, provider, data).await {
        Ok(req) => req,
        Err(Refusal::Page(why)) => return Ok(error_page(&why)),
        Err(Refusal::Redirect(r)) => return Ok(r),
    };
    let username = param(data, "username").unwrap_or_default();
    let password = Zeroizing::new(param(data, "password").unwrap_or_default().to_owned());
    // A missing or disabled user costs the same Argon2id work: timing does not tell who exists.
    let user = user::load(view, username).await?;
    let user = match user {
        Some(u) if user::password_matches(Some(&u), password).await? => u,
        other => {
            if other.is_none() {
                user::password_matches(None, Zeroizing::new(String::new())).await?;
            }
            return Ok(login_page(&req, Some("Wrong username or password."), 401));
        }
    };
    if !assigned(&req.client, &user) {
        return Ok(redirect(
            &req.redirect_uri,
            &[
                ("error", "access_denied"),
                (
                    "error_description",
                    "the user is not assigned to this client",
                ),
            ],
            req.state.as_deref(),
        ));
    }
    let code = engine
        .rng
        .bytes::<32>()
        .map_err(|e| qsafe_core::Error::Internal(format!("random: {e}")))?;
    let code = Zeroizing::new(b64url_encode(code.as_ref()));
    let at = now();
    let stored = CodeRecord {
        version: FORMAT,
        client_id: req.client.client_id.clone(),
        redirect_uri: req.redirect_uri.clone(),
        user: user.name.clone(),
        scope: req.scope.join(" "),
        nonce: req.nonce.clone(),
        code_challenge: req.code_challenge.clone(),
        expires_at: at + CODE_TTL,
        auth_time: at,
        used: false,
        issued_jtis: Vec::new(),
        family: None,
    };
    view.transact(&[
        Write::put(code_key(&code), record::encode(&stored)?).expecting(Expect::Absent)
    ])
    .await
    .map_err(record::conflict)?;
    Ok(redirect(
        &req.redirect_uri,
        &[("code", code.as_str())],
        req.state.as_deref(),
    ))
}

/// Whether `user` may use `client`: a client with no assignment, or with `allow_all`, lets
/// everyone in; otherwise one of its assignments must name the user or one of their groups.
fn assigned(client: &ClientRecord, user: &UserRecord) -> bool {
    client.assignments.is_empty()
        || client.assignments.iter().any(|a| a == "allow_all")
        || client.assignments.iter().any(|a| {
            a.strip_prefix("user:").is_some_and(|u| u == user.name)
                || a.strip_prefix("group:")
                    .is_some_and(|g| user.groups.iter().any(|ug| ug == g))
        })
}

/// HTML text or attribute value with `& < > " '` escaped.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:26rem;margin:3rem auto;padding:0 1rem;line-height:1.5}\
label{display:block;margin-top:1rem;font-weight:600}input{width:100%;padding:.5rem;font-size:1rem;box-sizing:border-box}\
button{margin-top:1.5rem;padding:.6rem 1.2rem;font-size:1rem}[role=alert]{color:#a00;font-weight:600}";

fn html(status: u16, body: &str) -> Response {
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Sign in · qsafe</title><style>{STYLE}</style></head><body><main>{body}</main></body></html>"
    );
    let raw = RawBody::new("text/html; charset=utf-8", page.into_bytes())
        .with_status(status)
        .with_header("cache-control", "no-store")
        .with_header(
            "content-security-policy",
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
        )
        .with_header("x-frame-options", "DENY")
        .with_header("referrer-policy", "no-referrer");
    Response {
        raw: Some(raw),
        ..Response::default()
    }
}

fn login_page(req: &AuthRequest, error: Option<&str>, status: u16) -> Response {
    let mut hidden = String::new();
    let fields = [
        ("client_id", Some(req.client.client_id.as_str())),
        ("redirect_uri", Some(req.redirect_uri.as_str())),
        ("response_type", Some("code")),
        ("scope", Some(&*req.scope.join(" "))),
        ("state", req.state.as_deref()),
        ("nonce", req.nonce.as_deref()),
        ("code_challenge", Some(req.code_challenge.as_str())),
        ("code_challenge_method", Some("S256")),
    ];
    for (name, value) in fields {
        if let Some(v) = value {
            hidden.push_str(&format!(
                "<input type=\"hidden\" name=\"{name}\" value=\"{}\">",
                esc(v)
            ));
        }
    }
    let alert = error.map_or_else(String::new, |e| {
        format!("<p role=\"alert\" id=\"error\">{}</p>", esc(e))
    });
    let body = format!(
        "<h1>Sign in</h1><p>The application <strong>{}</strong> asks to know who you are ({}).</p>{alert}\
         <form method=\"post\" action=\"authorize\">{hidden}\
         <label for=\"username\">Username</label>\
         <input id=\"username\" name=\"username\" autocomplete=\"username\" required autofocus>\
         <label for=\"password\">Password</label>\
         <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\
         <button type=\"submit\">Sign in and allow</button></form>",
        esc(&req.client.name),
        esc(&req.scope.join(", ")),
    );
    html(status, &body)
}

fn error_page(why: &str) -> Response {
    html(
        400,
        &format!(
            "<h1>This sign-in link does not work</h1><p role=\"alert\">{}</p>\
             <p>Go back to the application and start again.</p>",
            esc(why)
        ),
    )
}

/// `GET`/`POST end-session` (OpenID Connect RP-Initiated Logout 1.0 §2, §3): qsafe keeps no
/// sign-in session (each authorization asks for the password), so there is nothing to end on
/// its side; with `client_id` and a `post_logout_redirect_uri` that client registered, the
/// browser goes back there (with `state`), otherwise it sees a signed-out page. `id_token_hint`
/// is accepted and not needed.
pub(crate) async fn end_session(
    engine: &Identity,
    view: &View,
    provider: &Provider,
    data: Option<&Value>,
) -> Result<Response> {
    if let (Some(client_id), Some(uri)) = (
        param(data, "client_id"),
        param(data, "post_logout_redirect_uri"),
    ) && let Some(client) = engine.clients.by_id(view, client_id).await?
        && provider.record.allows(&client.client_id)
        && client.post_logout_redirect_uris.iter().any(|r| r == uri)
    {
        return Ok(redirect(uri, &[], param(data, "state")));
    }
    Ok(html(
        200,
        "<h1>You are signed out</h1><p>qsafe keeps no sign-in session: you may close this page.</p>",
    ))
}
