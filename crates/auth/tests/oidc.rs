//! OIDC bearer validation against an in-process identity provider on 127.0.0.1 that serves discovery and
//! a JWKS we can rotate or take down. Keys are the test-only fixtures in `fixtures/`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cairn_auth::oidc::MAX_TOKEN_BYTES;
use cairn_auth::{AuthError, OidcConfig, OidcIdentity, OidcVerifier};
use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

const AUDIENCE: &str = "cairn";

/// A signing key of the fake identity provider.
struct TestKey {
    kid: &'static str,
    alg: Algorithm,
    key: EncodingKey,
}

impl TestKey {
    fn rsa1() -> Self {
        let pem = include_bytes!("fixtures/test-only-rsa-1.pem");
        Self::new("rsa-1", Algorithm::RS256, EncodingKey::from_rsa_pem(pem))
    }

    fn rsa2() -> Self {
        let pem = include_bytes!("fixtures/test-only-rsa-2.pem");
        Self::new("rsa-2", Algorithm::RS256, EncodingKey::from_rsa_pem(pem))
    }

    fn ec() -> Self {
        let pem = include_bytes!("fixtures/test-only-ec-p256.pem");
        Self::new("ec-1", Algorithm::ES256, EncodingKey::from_ec_pem(pem))
    }

    fn ed() -> Self {
        let pem = include_bytes!("fixtures/test-only-ed25519.pem");
        Self::new("ed-1", Algorithm::EdDSA, EncodingKey::from_ed_pem(pem))
    }

    fn new(
        kid: &'static str,
        alg: Algorithm,
        key: jsonwebtoken::errors::Result<EncodingKey>,
    ) -> Self {
        let key = key.expect("fixture key loads");
        Self { kid, alg, key }
    }

    fn jwk(&self) -> Jwk {
        let mut jwk = Jwk::from_encoding_key(&self.key, self.alg).expect("public JWK");
        jwk.common.key_id = Some(self.kid.to_owned());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        jwk
    }

    fn sign(&self, claims: &Value) -> String {
        self.sign_as(self.alg, self.kid, claims)
    }

    fn sign_as(&self, alg: Algorithm, kid: &str, claims: &Value) -> String {
        let mut header = Header::new(alg);
        header.kid = Some(kid.to_owned());
        jsonwebtoken::encode(&header, claims, &self.key).expect("signs")
    }
}

fn jwks(keys: &[&TestKey]) -> Value {
    serde_json::to_value(JwkSet {
        keys: keys.iter().map(|k| k.jwk()).collect(),
    })
    .expect("serialises")
}

/// What the fake provider serves, and how often it was asked.
struct Idp {
    jwks: Value,
    down: bool,
    cache_control: Option<&'static str>,
    jwks_hits: usize,
    discovery_hits: usize,
}

type Shared = Arc<Mutex<Idp>>;

fn lock(idp: &Shared) -> std::sync::MutexGuard<'_, Idp> {
    idp.lock().expect("idp state")
}

async fn discovery(State((issuer, idp)): State<(String, Shared)>) -> Response {
    lock(&idp).discovery_hits += 1;
    let doc = json!({"issuer": issuer, "jwks_uri": format!("{issuer}/jwks.json")});
    axum::Json(doc).into_response()
}

async fn jwks_endpoint(State((_, idp)): State<(String, Shared)>) -> Response {
    let mut idp = lock(&idp);
    idp.jwks_hits += 1;
    if idp.down {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let mut resp = axum::Json(idp.jwks.clone()).into_response();
    if let Some(cc) = idp.cache_control {
        resp.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static(cc));
    }
    resp
}

/// Starts a provider serving `keys`; returns its issuer URL and state.
async fn start_idp(keys: &[&TestKey]) -> (String, Shared) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let issuer = format!("http://{}", listener.local_addr().expect("addr"));
    let idp = Arc::new(Mutex::new(Idp {
        jwks: jwks(keys),
        down: false,
        cache_control: None,
        jwks_hits: 0,
        discovery_hits: 0,
    }));
    let app = Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/jwks.json", get(jwks_endpoint))
        .with_state((issuer.clone(), idp.clone()));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (issuer, idp)
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
}

fn verifier(issuer: &str) -> OidcVerifier {
    OidcVerifier::new(OidcConfig::new(issuer, AUDIENCE), http())
}

/// A verifier that may refetch on every request, for rotation and outage tests.
fn eager_verifier(issuer: &str, ttl: Duration) -> OidcVerifier {
    verifier(issuer).with_jwks_timing(ttl, Duration::ZERO)
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn claims(issuer: &str) -> Value {
    json!({
        "iss": issuer,
        "aud": AUDIENCE,
        "sub": "user-1",
        "preferred_username": "ada",
        "groups": ["ml-team", "approvers"],
        "iat": now(),
        "exp": now() + 300,
    })
}

fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

fn without(mut claims: Value, key: &str) -> Value {
    claims.as_object_mut().map(|o| o.remove(key));
    claims
}

#[track_caller]
fn assert_invalid(r: &Result<OidcIdentity, AuthError>) {
    assert!(
        matches!(r, Err(AuthError::InvalidCredentials(_))),
        "expected InvalidCredentials, got {r:?}"
    );
}

#[tokio::test]
async fn valid_rs256_token_yields_the_identity_with_groups() {
    let k = TestKey::rsa1();
    let (issuer, idp) = start_idp(&[&k]).await;
    let c = claims(&issuer);
    let id = verifier(&issuer)
        .verify(&k.sign(&c))
        .await
        .expect("valid token");
    assert_eq!(id.subject, "user-1");
    assert_eq!(id.username, "ada");
    assert_eq!(id.groups, vec!["ml-team", "approvers"]);
    assert_eq!(Some(id.expires_at), c["exp"].as_i64());
    let idp = lock(&idp);
    assert_eq!((idp.discovery_hits, idp.jwks_hits), (1, 1));
}

#[tokio::test]
async fn es256_eddsa_and_ps256_tokens_verify() {
    let (rsa, ec, ed) = (TestKey::rsa1(), TestKey::ec(), TestKey::ed());
    let (issuer, idp) = start_idp(&[&rsa, &ec, &ed]).await;
    let v = verifier(&issuer);
    let c = claims(&issuer);
    v.verify(&ec.sign(&c)).await.expect("ES256");
    v.verify(&ed.sign(&c)).await.expect("EdDSA");
    // The RSA JWK pins RS256, so a PS256 token under the same kid is refused...
    let ps = rsa.sign_as(Algorithm::PS256, "rsa-1", &c);
    assert_invalid(&v.verify(&ps).await);
    // ...but an RSA key without a pinned alg may verify PS256.
    let mut unpinned = rsa.jwk();
    unpinned.common.key_algorithm = None;
    lock(&idp).jwks = serde_json::to_value(JwkSet {
        keys: vec![unpinned],
    })
    .expect("ser");
    let fresh = verifier(&issuer);
    fresh.verify(&ps).await.expect("PS256");
    // Keys were fetched once per verifier, not per token.
    assert_eq!(lock(&idp).jwks_hits, 2);
}

#[tokio::test]
async fn username_falls_back_to_sub_and_groups_may_be_absent() {
    let k = TestKey::rsa1();
    let (issuer, _idp) = start_idp(&[&k]).await;
    let c = without(without(claims(&issuer), "preferred_username"), "groups");
    let id = verifier(&issuer).verify(&k.sign(&c)).await.expect("valid");
    assert_eq!(id.username, "user-1");
    assert!(id.groups.is_empty());
}

#[tokio::test]
async fn custom_username_and_groups_claims_are_read() {
    let k = TestKey::rsa1();
    let (issuer, _idp) = start_idp(&[&k]).await;
    let mut config = OidcConfig::new(issuer.clone(), AUDIENCE);
    config.username_claim = "email".into();
    config.groups_claim = "realm_access.roles".into();
    let v = OidcVerifier::new(config, http());
    let c = with(claims(&issuer), "email", json!("ada@example.org"));
    let c = with(c, "realm_access", json!({"roles": ["admin"]}));
    let id = v.verify(&k.sign(&c)).await.expect("valid");
    assert_eq!(id.username, "ada@example.org");
    assert_eq!(id.groups, vec!["admin"]);
}

#[tokio::test]
async fn expired_token_is_reported_as_expired() {
    let k = TestKey::rsa1();
    let (issuer, _idp) = start_idp(&[&k]).await;
    let c = with(claims(&issuer), "exp", json!(now() - 3600));
    let r = verifier(&issuer).verify(&k.sign(&c)).await;
    assert_eq!(r, Err(AuthError::Expired));
}

#[tokio::test]
async fn token_without_exp_is_rejected() {
    let k = TestKey::rsa1();
    let (issuer, _idp) = start_idp(&[&k]).await;
    let c = without(claims(&issuer), "exp");
    assert_invalid(&verifier(&issuer).verify(&k.sign(&c)).await);
}

#[tokio::test]
async fn nbf_in_the_future_is_rejected() {
    let k = TestKey::rsa1();
    let (issuer, _idp) = start_idp(&[&k]).await;
    let c = with(claims(&issuer), "nbf", json!(now() + 3600));
    assert_invalid(&verifier(&issuer).verify(&k.sign(&c)).await);
}

#[tokio::test]
async fn clock_skew_inside_leeway_is_tolerated_and_outside_is_not() {
    let k = TestKey::rsa1();
    let (issuer, _idp) = start_idp(&[&k]).await;
    let v = verifier(&issuer); // 60 s leeway
    let base = claims(&issuer);
    let just_expired = with(base.clone(), "exp", json!(now() - 20));
    v.verify(&k.sign(&just_expired))
        .await
        .expect("exp 20 s ago is inside leeway");
    let almost_valid = with(base.clone(), "nbf", json!(now() + 20));
    v.verify(&k.sign(&almost_valid))
        .await
        .expect("nbf 20 s ahead is inside leeway");
    let long_expired = with(base.clone(), "exp", json!(now() - 120));
    assert_eq!(
        v.verify(&k.sign(&long_expired)).await,
        Err(AuthError::Expired)
    );
    let far_future = with(base, "nbf", json!(now() + 120));
    assert_invalid(&v.verify(&k.sign(&far_future)).await);
}

#[tokio::test]
async fn zero_leeway_is_strict() {
    let k = TestKey::rsa1();
    let (issuer, _idp) = start_idp(&[&k]).await;
    let mut config = OidcConfig::new(issuer.clone(), AUDIENCE);
    config.leeway_s = 0;
    let v = OidcVerifier::new(config, http());
    let c = with(claims(&issuer), "exp", json!(now() - 20));
    assert_eq!(v.verify(&k.sign(&c)).await, Err(AuthError::Expired));
}

#[tokio::test]
async fn wrong_issuer_is_rejected() {
    let k = TestKey::rsa1();
    let (issuer, _idp) = start_idp(&[&k]).await;
    let v = verifier(&issuer);
    for iss in [
        json!("https://evil.example"),
        json!(format!("{issuer}/")),
        json!([issuer.clone()]),
    ] {
        let c = with(claims(&issuer), "iss", iss);
        assert_invalid(&v.verify(&k.sign(&c)).await);
    }
    assert_invalid(&v.verify(&k.sign(&without(claims(&issuer), "iss"))).await);
}

#[tokio::test]
async fn audience_must_be_present_and_contain_ours() {
    let k = TestKey::rsa1();
    let (issuer, _idp) = start_idp(&[&k]).await;
    let v = verifier(&issuer);
    let wrong = with(claims(&issuer), "aud", json!("other-app"));
    assert_invalid(&v.verify(&k.sign(&wrong)).await);
    let empty = with(claims(&issuer), "aud", json!([]));
    assert_invalid(&v.verify(&k.sign(&empty)).await);
    let missing = without(claims(&issuer), "aud");
    assert_invalid(&v.verify(&k.sign(&missing)).await);
    let several = with(claims(&issuer), "aud", json!(["other-app", AUDIENCE]));
    v.verify(&k.sign(&several))
        .await
        .expect("aud array containing ours");
}

#[tokio::test]
async fn alg_none_is_rejected_without_fetching_keys() {
    let k = TestKey::rsa1();
    let (issuer, idp) = start_idp(&[&k]).await;
    let v = verifier(&issuer);
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT","kid":"rsa-1"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims(&issuer).to_string());
    for token in [
        format!("{header}.{payload}."),
        format!("{header}.{payload}.c2ln"),
    ] {
        assert_invalid(&v.verify(&token).await);
    }
    assert_eq!(lock(&idp).jwks_hits, 0);
}

#[tokio::test]
async fn hs256_signed_with_the_rsa_public_key_is_rejected() {
    // Classic key confusion: a verifier that lets the token pick HS256 would use the RSA public key (which
    // anyone can download) as the HMAC secret.
    let k = TestKey::rsa1();
    let (issuer, idp) = start_idp(&[&k]).await;
    let v = verifier(&issuer);
    let public_pem = include_bytes!("fixtures/test-only-rsa-1.pub.pem");
    let forger = TestKey::new(
        "rsa-1",
        Algorithm::HS256,
        EncodingKey::from_secret(public_pem),
    );
    let forged = forger.sign(&claims(&issuer));
    let r = v.verify(&forged).await;
    assert_invalid(&r);
    assert!(format!("{r:?}").contains("not allowed"), "{r:?}");
    // HS512 with the same secret.
    let hs512 = forger.sign_as(Algorithm::HS512, "rsa-1", &claims(&issuer));
    assert_invalid(&v.verify(&hs512).await);
    assert_eq!(lock(&idp).jwks_hits, 0, "rejected before any key lookup");
}

#[tokio::test]
async fn token_must_name_a_key_of_the_right_type() {
    let (rsa, ec) = (TestKey::rsa1(), TestKey::ec());
    let (issuer, _idp) = start_idp(&[&rsa, &ec]).await;
    let v = verifier(&issuer);
    let c = claims(&issuer);
    // No kid at all.
    let mut header = Header::new(Algorithm::RS256);
    header.kid = None;
    let no_kid = jsonwebtoken::encode(&header, &c, &rsa.key).expect("signs");
    assert_invalid(&v.verify(&no_kid).await);
    // ES256 token claiming the RSA key's kid.
    let mismatched = ec.sign_as(Algorithm::ES256, "rsa-1", &c);
    assert_invalid(&v.verify(&mismatched).await);
    // RS256 token signed by rsa-2 but claiming rsa-1.
    let impostor = TestKey::rsa2().sign_as(Algorithm::RS256, "rsa-1", &c);
    assert_invalid(&v.verify(&impostor).await);
}

#[tokio::test]
async fn tampered_payload_fails_the_signature() {
    let k = TestKey::rsa1();
    let (issuer, _idp) = start_idp(&[&k]).await;
    let token = k.sign(&claims(&issuer));
    let mut parts: Vec<&str> = token.split('.').collect();
    let evil = URL_SAFE_NO_PAD.encode(with(claims(&issuer), "sub", json!("admin")).to_string());
    parts[1] = &evil;
    assert_invalid(&verifier(&issuer).verify(&parts.join(".")).await);
}

#[tokio::test]
async fn oversize_token_is_rejected_unparsed() {
    let k = TestKey::rsa1();
    let (issuer, idp) = start_idp(&[&k]).await;
    let c = with(
        claims(&issuer),
        "padding",
        json!("x".repeat(MAX_TOKEN_BYTES)),
    );
    let token = k.sign(&c);
    assert!(token.len() > MAX_TOKEN_BYTES);
    let r = verifier(&issuer).verify(&token).await;
    assert!(format!("{r:?}").contains("too large"), "{r:?}");
    assert_eq!(lock(&idp).jwks_hits, 0);
    let garbage = "a".repeat(1 << 20);
    assert_invalid(&verifier(&issuer).verify(&garbage).await);
}

#[tokio::test]
async fn unknown_kid_triggers_a_refetch_that_picks_up_rotated_keys() {
    let (old, new) = (TestKey::rsa1(), TestKey::rsa2());
    let (issuer, idp) = start_idp(&[&old]).await;
    let v = eager_verifier(&issuer, Duration::from_secs(600));
    let c = claims(&issuer);
    v.verify(&old.sign(&c)).await.expect("old key");
    lock(&idp).jwks = jwks(&[&new]);
    v.verify(&old.sign(&c))
        .await
        .expect("cached keys are fresh: no refetch");
    assert_eq!(lock(&idp).jwks_hits, 1);
    v.verify(&new.sign(&c))
        .await
        .expect("unknown kid refetches and finds the new key");
    assert_eq!(lock(&idp).jwks_hits, 2);
    // The old key was rotated out of the refreshed set.
    assert_invalid(&v.verify(&old.sign(&c)).await);
}

#[tokio::test]
async fn unknown_kid_refetches_at_most_once_per_interval() {
    let (old, new) = (TestKey::rsa1(), TestKey::rsa2());
    let (issuer, idp) = start_idp(&[&old]).await;
    let v = verifier(&issuer); // default: 1 minute between fetches
    let c = claims(&issuer);
    v.verify(&old.sign(&c)).await.expect("old key");
    lock(&idp).jwks = jwks(&[&old, &new]);
    for kid in ["rsa-2", "made-up-1", "made-up-2"] {
        assert_invalid(&v.verify(&new.sign_as(Algorithm::RS256, kid, &c)).await);
    }
    assert_eq!(lock(&idp).jwks_hits, 1, "no refetch inside the interval");
}

#[tokio::test]
async fn cached_keys_keep_working_while_the_jwks_endpoint_is_down() {
    let k = TestKey::rsa1();
    let (issuer, idp) = start_idp(&[&k]).await;
    // Keys go stale immediately, so every verify tries to refresh.
    let v = eager_verifier(&issuer, Duration::ZERO);
    let c = claims(&issuer);
    v.verify(&k.sign(&c)).await.expect("first fetch");
    lock(&idp).down = true;
    v.verify(&k.sign(&c))
        .await
        .expect("stale cached key still used");
    v.verify(&k.sign(&c)).await.expect("and again");
    assert_eq!(lock(&idp).jwks_hits, 3, "each verify tried to refresh");
    // An unknown kid cannot be resolved while down, but is still an auth failure, not an outage.
    let other = TestKey::rsa2();
    assert_invalid(&v.verify(&other.sign(&c)).await);
}

#[tokio::test]
async fn no_keys_at_all_fails_closed_as_unavailable() {
    let k = TestKey::rsa1();
    let (issuer, idp) = start_idp(&[&k]).await;
    lock(&idp).down = true;
    let r = verifier(&issuer).verify(&k.sign(&claims(&issuer))).await;
    assert!(matches!(r, Err(AuthError::Unavailable(_))), "{r:?}");
    assert_eq!(r.map(|_| ()).unwrap_err().status_code(), 503);
}

#[tokio::test]
async fn unreachable_provider_fails_closed() {
    // Bind then drop a listener to get a port nothing listens on.
    let port = {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        l.local_addr().expect("addr").port()
    };
    let issuer = format!("http://127.0.0.1:{port}");
    let k = TestKey::rsa1();
    let r = verifier(&issuer).verify(&k.sign(&claims(&issuer))).await;
    assert!(matches!(r, Err(AuthError::Unavailable(_))), "{r:?}");
}

#[tokio::test]
async fn cache_control_max_age_sets_the_key_lifetime() {
    let k = TestKey::rsa1();
    let (issuer, idp) = start_idp(&[&k]).await;
    lock(&idp).cache_control = Some("public, max-age=0");
    // Default lifetime is long, but the provider says the keys are stale at once.
    let v = eager_verifier(&issuer, Duration::from_secs(600));
    let c = claims(&issuer);
    v.verify(&k.sign(&c)).await.expect("valid");
    v.verify(&k.sign(&c)).await.expect("valid");
    assert_eq!(lock(&idp).jwks_hits, 2);
    lock(&idp).cache_control = Some("max-age=3600");
    v.verify(&k.sign(&c)).await.expect("valid");
    v.verify(&k.sign(&c)).await.expect("valid");
    assert_eq!(lock(&idp).jwks_hits, 3);
}

#[tokio::test]
async fn configured_jwks_uri_skips_discovery() {
    let k = TestKey::rsa1();
    let (issuer, idp) = start_idp(&[&k]).await;
    let mut config = OidcConfig::new(issuer.clone(), AUDIENCE);
    config.jwks_uri = Some(format!("{issuer}/jwks.json"));
    let v = OidcVerifier::new(config, http());
    v.verify(&k.sign(&claims(&issuer))).await.expect("valid");
    let idp = lock(&idp);
    assert_eq!((idp.discovery_hits, idp.jwks_hits), (0, 1));
}

#[tokio::test]
async fn discovery_for_another_issuer_is_refused() {
    let k = TestKey::rsa1();
    let (issuer, idp) = start_idp(&[&k]).await;
    // Same endpoint, but the document names `issuer` while we expect `issuer/`.
    let configured = format!("{issuer}/");
    let c = claims(&configured);
    let r = verifier(&configured).verify(&k.sign(&c)).await;
    assert!(matches!(r, Err(AuthError::Unavailable(_))), "{r:?}");
    assert_eq!(lock(&idp).jwks_hits, 0);
}

#[tokio::test]
async fn concurrent_first_requests_share_one_fetch() {
    let k = TestKey::rsa1();
    let (issuer, idp) = start_idp(&[&k]).await;
    let v = Arc::new(verifier(&issuer));
    let token = k.sign(&claims(&issuer));
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (v, token) = (v.clone(), token.clone());
            tokio::spawn(async move { v.verify(&token).await })
        })
        .collect();
    for t in tasks {
        t.await.expect("task").expect("valid");
    }
    assert_eq!(lock(&idp).jwks_hits, 1);
}
