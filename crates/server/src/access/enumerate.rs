//! Enumerating the routes a router answers, so that a route missing from the access table stops the
//! server at start-up instead of being served to anyone. axum has no route listing; its `Debug` output
//! names every route's path and allowed methods, which is what this reads. A unit test pins the format,
//! so an axum upgrade that changes it fails the build's tests rather than silently listing nothing.

use axum::Router;

use super::table::{Need, rule_for};

/// Methods a route with no method list (an `any` route or a nested service) is checked for.
const ALL_METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/// Every `(methods, path)` the router serves; `methods` is empty for a route answering any method.
pub fn routes(router: &Router) -> Vec<(Vec<String>, String)> {
    let text = format!("{router:?}");
    // Only the path router: the fallback router's catch-alls are the 404 handlers.
    let text = text.split("fallback_router:").next().unwrap_or("");
    let mut methods: std::collections::HashMap<String, Vec<String>> = Default::default();
    let mut paths: Vec<(String, String)> = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("RouteId(") {
        rest = &rest[i + "RouteId(".len()..];
        let Some(close) = rest.find(')') else { break };
        let id = rest[..close].trim().to_owned();
        let after = rest[close + 1..].trim_start_matches([':', ' ']);
        if let Some(quoted) = after.strip_prefix('"') {
            if let Some(end) = quoted.find('"') {
                paths.push((id, quoted[..end].to_owned()));
            }
        } else {
            // The method router's entry: its allow header lists the methods (`Skip`/`None` for any).
            let next_route = after.find("RouteId(").unwrap_or(after.len());
            let body = &after[..next_route];
            let list = body
                .find("allow_header: Bytes(b\"")
                .map(|j| {
                    let s = &body[j + "allow_header: Bytes(b\"".len()..];
                    s[..s.find('"').unwrap_or(0)]
                        .split(',')
                        .filter(|m| !m.is_empty() && *m != "HEAD")
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default();
            methods.insert(id, list);
        }
    }
    paths
        .into_iter()
        .map(|(id, path)| (methods.remove(&id).unwrap_or_default(), path))
        .collect()
}

/// Every (method, path, what it needs) of the router; an error naming the routes the table misses.
pub fn check(router: &Router) -> Result<Vec<(String, String, String)>, String> {
    let mut mapped = Vec::new();
    let mut missing = Vec::new();
    for (methods, path) in routes(router) {
        let list: Vec<String> = if methods.is_empty() {
            ALL_METHODS.iter().map(|m| (*m).to_owned()).collect()
        } else {
            methods
        };
        for m in list {
            match rule_for(&m, &path) {
                Some(rule) => mapped.push((m, path.clone(), describe(rule.need))),
                None => missing.push(format!("{m} {path}")),
            }
        }
    }
    if mapped.is_empty() && missing.is_empty() {
        return Err("could not list the server's routes (has axum's Debug output changed?)".into());
    }
    if missing.is_empty() {
        mapped.sort();
        Ok(mapped)
    } else {
        Err(format!(
            "routes missing from the access table (deny by default refuses to start): {}",
            missing.join(", ")
        ))
    }
}

fn describe(need: Need) -> String {
    match need {
        Need::Public => "public".into(),
        Need::Authenticated => "authenticated".into(),
        Need::Cap(cap, _) => cap.as_str().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use axum::routing::{any, get, post};

    use super::*;

    #[test]
    fn lists_paths_and_methods_of_nested_and_any_routes() {
        let inner = Router::new().route("/runs/get", get(|| async {}).post(|| async {}));
        let router: Router = Router::new()
            .route("/health", get(|| async {}))
            .route("/v1/traces", any(|| async {}))
            .route("/api/2.0/mlflow/runs/create", post(|| async {}))
            .nest("/api/2.0/mlflow", inner)
            .fallback(|| async {});
        let mut found = routes(&router);
        found.sort_by(|a, b| a.1.cmp(&b.1));
        assert_eq!(
            found,
            vec![
                (
                    vec!["POST".to_owned()],
                    "/api/2.0/mlflow/runs/create".to_owned()
                ),
                (
                    vec!["GET".to_owned(), "POST".to_owned()],
                    "/api/2.0/mlflow/runs/get".to_owned()
                ),
                (vec!["GET".to_owned()], "/health".to_owned()),
                (vec![], "/v1/traces".to_owned()),
            ]
        );
        assert!(check(&router).is_ok());
    }

    #[test]
    fn an_unmapped_route_is_an_error() {
        let router: Router = Router::new().route("/secret-new-endpoint", post(|| async {}));
        let err = check(&router).unwrap_err();
        assert!(err.contains("POST /secret-new-endpoint"), "{err}");
    }
}
