//! People who sign in at the login page (`identity/user/:name`): a password kept as an Argon2id
//! PHC string (RFC 9106; OWASP's parameters, m = 19 MiB, t = 2, p = 1), an e-mail address, a
//! display name and groups, which become ID-token and userinfo claims. `sub` is a random id
//! given at creation, so it stays the same for the user's whole life.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use qsafe_core::fields::{field_bool, field_str, field_str_list};
use qsafe_core::record;
use qsafe_core::{Error, Response, Result};
use qsafe_crypto::encoding::b64url_encode;
use qsafe_store::{Expect, View};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use zeroize::Zeroizing;

use crate::{FORMAT, Identity};

/// `users/<name>`.
pub(crate) const USER_PREFIX: &str = "users/";
/// Shortest password accepted.
const MIN_PASSWORD: usize = 12;
/// Longest password accepted (Argon2 hashes any length; this bounds the work a request asks).
const MAX_PASSWORD: usize = 1024;

/// The stored user (docs/formats.md §14).
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct UserRecord {
    pub(crate) version: u32,
    pub(crate) name: String,
    /// The `sub` of the user's tokens.
    pub(crate) id: String,
    password_phc: String,
    pub(crate) email: String,
    pub(crate) display_name: String,
    pub(crate) groups: Vec<String>,
    pub(crate) disabled: bool,
}

impl UserRecord {
    /// The claims the granted `scopes` release (OpenID Connect Core §5.4: `email`, `profile`;
    /// and `groups`).
    pub(crate) fn claims(&self, scopes: &[&str]) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("sub".into(), self.id.clone().into());
        if scopes.contains(&"profile") {
            m.insert("preferred_username".into(), self.name.clone().into());
            if !self.display_name.is_empty() {
                m.insert("name".into(), self.display_name.clone().into());
            }
        }
        if scopes.contains(&"email") && !self.email.is_empty() {
            m.insert("email".into(), self.email.clone().into());
        }
        if scopes.contains(&"groups") {
            m.insert("groups".into(), self.groups.clone().into());
        }
        m
    }
}

fn argon2() -> Argon2<'static> {
    Argon2::default()
}

/// Hashes `password` (off the async workers: about 20 ms of one core).
async fn hash(engine: &Identity, password: Zeroizing<String>) -> Result<String> {
    let salt = engine
        .rng
        .bytes::<16>()
        .map_err(|e| Error::Internal(format!("random: {e}")))?;
    let salt =
        SaltString::encode_b64(salt.as_ref()).map_err(|e| Error::Internal(format!("salt: {e}")))?;
    qsafe_core::cpu::run("password hash", move || {
        argon2()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| Error::Internal(format!("password hash: {e}")))
    })
    .await?
}

/// Whether `password` is the password of `user` — a user that exists and is enabled. For a
/// missing or disabled user the same Argon2id work is done against a throw-away hash, so the
/// answer's timing does not tell which usernames exist (off the async workers).
pub(crate) async fn password_matches(
    user: Option<&UserRecord>,
    password: Zeroizing<String>,
) -> Result<bool> {
    let live = user.filter(|u| !u.disabled);
    let phc = match live {
        Some(u) => u.password_phc.clone(),
        None => match decoy() {
            Some(d) => d.to_owned(),
            None => return Ok(false),
        },
    };
    let matches = qsafe_core::cpu::run("password check", move || {
        PasswordHash::new(&phc)
            .map(|parsed| {
                argon2()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .map_err(|e| Error::Internal(format!("stored password hash: {e}")))
    })
    .await??;
    Ok(matches && live.is_some())
}

/// An Argon2id hash with the users' parameters, of a password nobody knows, made once.
fn decoy() -> Option<&'static str> {
    static DECOY: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    DECOY
        .get_or_init(|| {
            let salt = SaltString::encode_b64(&[0x5a; 16]).ok()?;
            argon2()
                .hash_password(b"no user has this password", &salt)
                .ok()
                .map(|h| h.to_string())
        })
        .as_deref()
}

/// `POST user/:name` `{"password", "email", "display_name", "groups", "disabled"}`.
pub(crate) async fn write(
    engine: &Identity,
    view: &View,
    name: &str,
    data: Option<&Value>,
) -> Result<Response> {
    crate::check_name(name)?;
    let path = format!("{USER_PREFIX}{name}");
    let loaded = record::load::<UserRecord>(view, &path).await?;
    let password = field_str(data, "password")?.map(|p| Zeroizing::new(p.to_owned()));
    if let Some(p) = &password
        && !(MIN_PASSWORD..=MAX_PASSWORD).contains(&p.chars().count())
    {
        return Err(Error::InvalidInput(format!(
            "a password has {MIN_PASSWORD} to {MAX_PASSWORD} characters"
        )));
    }
    let (mut user, expect) = match loaded {
        Some((u, revision)) => (u, Expect::Revision(revision)),
        None => {
            let Some(password) = password.clone() else {
                return Err(Error::InvalidInput("password is required".into()));
            };
            let id = engine
                .rng
                .bytes::<16>()
                .map_err(|e| Error::Internal(format!("random: {e}")))?;
            let user = UserRecord {
                version: FORMAT,
                name: name.to_owned(),
                id: b64url_encode(id.as_ref()),
                password_phc: hash(engine, password).await?,
                email: String::new(),
                display_name: String::new(),
                groups: Vec::new(),
                disabled: false,
            };
            (user, Expect::Absent)
        }
    };
    if expect != Expect::Absent
        && let Some(p) = password
    {
        user.password_phc = hash(engine, p).await?;
    }
    if let Some(e) = field_str(data, "email")? {
        e.clone_into(&mut user.email);
    }
    if let Some(d) = field_str(data, "display_name")? {
        d.clone_into(&mut user.display_name);
    }
    if let Some(g) = field_str_list(data, "groups")? {
        user.groups = g;
    }
    if let Some(d) = field_bool(data, "disabled")? {
        user.disabled = d;
    }
    record::save(view, &path, &user, expect).await?;
    Ok(Response::data(json!({"id": user.id})))
}

/// `GET user/:name`: never the password hash.
pub(crate) async fn read(view: &View, name: &str) -> Result<Response> {
    let u = load(view, name)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no user {name:?}")))?;
    Ok(Response::data(json!({
        "id": u.id,
        "email": u.email,
        "display_name": u.display_name,
        "groups": u.groups,
        "disabled": u.disabled,
    })))
}

/// The user `name`.
pub(crate) async fn load(view: &View, name: &str) -> Result<Option<UserRecord>> {
    crate::load_named(view, USER_PREFIX, name).await
}
