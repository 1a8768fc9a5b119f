//! The files the pages load, embedded in the binary: our own (`crates/web/assets/`) and the pinned
//! npm ones `build.rs` copied. Served under a content hash (`/static/app.js?v=…`), cached for a year
//! and gzip-compressed once, at first use, for clients that accept it.

use std::sync::OnceLock;

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

pub struct Asset {
    pub name: &'static str,
    pub mime: &'static str,
    pub body: &'static [u8],
}

pub const ASSETS: &[Asset] = &[
    asset("app.css", "text/css", include_bytes!("../assets/app.css")),
    asset(
        "app.js",
        "text/javascript",
        include_bytes!("../assets/app.js"),
    ),
    asset(
        "grid.js",
        "text/javascript",
        include_bytes!("../assets/grid.js"),
    ),
    asset(
        "charts.js",
        "text/javascript",
        include_bytes!("../assets/charts.js"),
    ),
    asset(
        "parallel.js",
        "text/javascript",
        include_bytes!("../assets/parallel.js"),
    ),
    asset(
        "uplot.js",
        "text/javascript",
        include_bytes!(concat!(env!("OUT_DIR"), "/uplot.js")),
    ),
    asset(
        "uplot.css",
        "text/css",
        include_bytes!(concat!(env!("OUT_DIR"), "/uplot.css")),
    ),
    asset(
        "uplot.LICENSE",
        "text/plain",
        include_bytes!(concat!(env!("OUT_DIR"), "/uplot.LICENSE")),
    ),
];

const fn asset(name: &'static str, mime: &'static str, body: &'static [u8]) -> Asset {
    Asset { name, mime, body }
}

/// `/static/NAME?v=HASH`: the URL a page links, changing whenever the file does.
pub fn url(name: &str) -> String {
    let hash = ASSETS
        .iter()
        .find(|a| a.name == name)
        .map(|a| fingerprint(a.body))
        .unwrap_or_default();
    format!("/static/{name}?v={hash:016x}")
}

/// FNV-1a: stable across builds and platforms, which `DefaultHasher` does not promise.
fn fingerprint(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

pub async fn serve(Path(file): Path<String>, headers: HeaderMap) -> Response {
    let Some(i) = ASSETS.iter().position(|a| a.name == file) else {
        return (StatusCode::NOT_FOUND, "no such asset").into_response();
    };
    let asset = &ASSETS[i];
    let gzip_ok = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("gzip"));
    let mut response = if gzip_ok {
        let mut r = compressed(i).to_vec().into_response();
        r.headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        r
    } else {
        asset.body.into_response()
    };
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.mime));
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    response
}

/// Asset `i`, gzip-compressed (computed once).
pub fn compressed(i: usize) -> &'static [u8] {
    static CACHE: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    &CACHE.get_or_init(|| ASSETS.iter().map(|a| gzip(a.body)).collect())[i]
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::io::Write;
    let mut enc = GzEncoder::new(Vec::new(), Compression::best());
    enc.write_all(bytes).expect("gzip into memory");
    enc.finish().expect("gzip into memory")
}
