//! The page shell every page shares: head, navigation, a main column, the scripts it asks for.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::assets;

/// The top navigation: (label, path).
const NAV: &[(&str, &str)] = &[
    ("Experiments", "/experiments"),
    ("Models", "/models"),
    ("Pipelines", "/pipelines"),
    ("Deployments", "/deployments"),
    ("Monitors", "/monitors"),
    ("Maturity", "/maturity"),
    ("Governance", "/governance"),
];

/// A page: its title, which navigation entry it belongs to, its body, and the ES modules it runs.
pub struct Page<'a> {
    pub title: String,
    pub section: &'a str,
    pub scripts: &'a [&'a str],
    pub body: Markup,
}

impl IntoResponse for Page<'_> {
    fn into_response(self) -> Response {
        let markup = html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    meta name="color-scheme" content="light dark";
                    link rel="icon" href="data:,";
                    title { (self.title) " · Cairn" }
                    link rel="stylesheet" href=(assets::url("app.css"));
                    @if self.scripts.contains(&"charts.js") {
                        link rel="stylesheet" href=(assets::url("uplot.css"));
                        script src=(assets::url("uplot.js")) defer {}
                    }
                    script type="module" src=(assets::url("app.js")) {}
                    @for s in self.scripts {
                        script type="module" src=(assets::url(s)) {}
                    }
                }
                body {
                    header.top {
                        a.brand href="/" { "Cairn" }
                        nav {
                            @for (label, path) in NAV {
                                a href=(path) aria-current=[(*label == self.section).then_some("page")] { (label) }
                            }
                        }
                    }
                    main { (self.body) }
                }
            }
        };
        let mut r = markup.into_string().into_response();
        let h = r.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        // Scripts only from this server, no inline code: a governance product runs under a strict CSP.
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
                 object-src 'none'; frame-ancestors 'none'; base-uri 'none'",
            ),
        );
        r
    }
}

/// `<script type="application/json" id=…>`: data a module reads at start, escaped so that it cannot
/// close the element.
pub fn json_island(id: &str, value: &serde_json::Value) -> Markup {
    let text = value.to_string().replace("</", "<\\/");
    html! { script type="application/json" id=(id) { (PreEscaped(text)) } }
}

/// A breadcrumb trail of (label, link) ending in the current page's heading.
pub fn crumbs(trail: &[(&str, String)], here: &str) -> Markup {
    html! {
        nav.crumbs aria-label="breadcrumb" {
            @for (label, href) in trail { a href=(href) { (label) } " / " }
            h1 { (here) }
        }
    }
}
