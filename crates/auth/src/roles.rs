//! Authorization: a principal holds grants, each a [`Role`] (a fixed bundle of [`Capability`]s) on a
//! [`Scope`] (which resources it reaches). A route asks [`allows`] for one capability on one resource.
//! Roles are fixed in code rather than configurable so that what "approver" means is reviewable here.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::AuthError;
use crate::glob::glob_match;

/// One thing a route may require.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Capability {
    /// See experiments, runs, models and deployments.
    Read,
    /// Create runs and log params, metrics and artifacts.
    Track,
    /// Register models and model versions.
    Register,
    /// Ask for a model version to move to a stage.
    Promote,
    /// Approve or reject promotion requests.
    Approve,
    /// Create, change and remove deployments.
    Deploy,
    /// Call a deployment's prediction endpoint.
    Invoke,
    /// Read the audit log.
    Audit,
    /// Manage users, tokens, grants and server settings.
    Admin,
}

impl Capability {
    /// Every capability, in declaration order.
    pub const ALL: [Capability; 9] = [
        Self::Read,
        Self::Track,
        Self::Register,
        Self::Promote,
        Self::Approve,
        Self::Deploy,
        Self::Invoke,
        Self::Audit,
        Self::Admin,
    ];

    /// Lowercase name, as in serde and configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Track => "track",
            Self::Register => "register",
            Self::Promote => "promote",
            Self::Approve => "approve",
            Self::Deploy => "deploy",
            Self::Invoke => "invoke",
            Self::Audit => "audit",
            Self::Admin => "admin",
        }
    }

    /// The inverse of [`Capability::as_str`] (ASCII case-insensitive).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(s))
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A named bundle of capabilities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Read only.
    Viewer,
    /// Day-to-day ML work: track runs, register models, request promotions.
    Scientist,
    /// Reviews promotions; separate from scientist so nobody approves their own work by default.
    Approver,
    /// Runs deployments.
    Operator,
    /// Only calls prediction endpoints; for applications' service tokens.
    Invoker,
    /// Reads everything including the audit log.
    Auditor,
    /// Everything.
    Admin,
}

impl Role {
    /// Every role, in declaration order.
    pub const ALL: [Role; 7] = [
        Self::Viewer,
        Self::Scientist,
        Self::Approver,
        Self::Operator,
        Self::Invoker,
        Self::Auditor,
        Self::Admin,
    ];

    /// The role named `s` (ASCII case-insensitive), if any.
    pub fn parse(s: &str) -> Option<Role> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(s))
    }

    /// Lowercase name, as in serde and configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Scientist => "scientist",
            Self::Approver => "approver",
            Self::Operator => "operator",
            Self::Invoker => "invoker",
            Self::Auditor => "auditor",
            Self::Admin => "admin",
        }
    }

    /// What the role may do.
    pub fn capabilities(self) -> &'static [Capability] {
        use Capability as C;
        match self {
            Self::Viewer => &[C::Read],
            Self::Scientist => &[C::Read, C::Track, C::Register, C::Promote],
            Self::Approver => &[C::Read, C::Approve],
            Self::Operator => &[C::Read, C::Deploy, C::Invoke],
            Self::Invoker => &[C::Invoke],
            Self::Auditor => &[C::Read, C::Audit],
            Self::Admin => &Capability::ALL,
        }
    }

    /// Whether the role includes `cap`.
    pub fn has(self, cap: Capability) -> bool {
        self.capabilities().contains(&cap)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which resources a grant reaches. Written as text (`*`, `experiment:<id>`, `model:<glob>`,
/// `deployment:<glob>`) in configuration, the API and the database.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Everything (`*`).
    All,
    /// One experiment, by id (`experiment:<id>`; exact, no glob).
    Experiment(String),
    /// Registered models whose name matches the glob (`model:<glob>`).
    Model(String),
    /// Deployments whose name matches the glob (`deployment:<glob>`).
    Deployment(String),
}

impl Scope {
    /// Parses the text form; the part after the colon must be non-empty and free of control characters.
    pub fn parse(s: &str) -> Result<Scope, AuthError> {
        if s == "*" {
            return Ok(Scope::All);
        }
        let bad = |why: &str| {
            AuthError::BadRequest(format!(
                "invalid scope {s:?}: {why} (expected *, experiment:<id>, model:<glob> or deployment:<glob>)"
            ))
        };
        let (kind, rest) = s.split_once(':').ok_or_else(|| bad("no kind"))?;
        if rest.is_empty() {
            return Err(bad("empty name"));
        }
        if rest.chars().any(char::is_control) {
            return Err(bad("control character"));
        }
        match kind {
            "experiment" => Ok(Scope::Experiment(rest.to_owned())),
            "model" => Ok(Scope::Model(rest.to_owned())),
            "deployment" => Ok(Scope::Deployment(rest.to_owned())),
            _ => Err(bad("unknown kind")),
        }
    }

    /// Whether this scope reaches `resource`. [`Resource::Global`] is reached by every scope: routes that
    /// name no single resource (lists, searches) must filter their results per item.
    pub fn covers(&self, resource: &Resource<'_>) -> bool {
        match (self, resource) {
            (_, Resource::Global) | (Scope::All, _) => true,
            (Scope::Experiment(id), Resource::Experiment(r)) => id == r,
            (Scope::Model(g), Resource::Model(name)) => glob_match(g, name),
            (Scope::Deployment(g), Resource::Deployment(name)) => glob_match(g, name),
            _ => false,
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::All => f.write_str("*"),
            Scope::Experiment(id) => write!(f, "experiment:{id}"),
            Scope::Model(g) => write!(f, "model:{g}"),
            Scope::Deployment(g) => write!(f, "deployment:{g}"),
        }
    }
}

impl FromStr for Scope {
    type Err = AuthError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scope::parse(s)
    }
}

impl Serialize for Scope {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Scope {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Scope::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// What a route acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource<'a> {
    /// No single resource: a list, a search, a server-wide action.
    Global,
    /// An experiment (and its runs), by id.
    Experiment(&'a str),
    /// A registered model (and its versions), by name.
    Model(&'a str),
    /// A deployment, by name.
    Deployment(&'a str),
}

/// A role on a scope, as stored per user, token or group.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Grant {
    /// What the holder may do.
    pub role: Role,
    /// Where they may do it.
    pub scope: Scope,
}

impl Grant {
    /// Shorthand constructor.
    pub fn new(role: Role, scope: Scope) -> Self {
        Self { role, scope }
    }
}

/// Whether some grant has a role with `cap` on a scope that covers `resource`.
pub fn allows(grants: &[Grant], cap: Capability, resource: &Resource<'_>) -> bool {
    grants
        .iter()
        .any(|g| g.role.has(cap) && g.scope.covers(resource))
}

/// The grants of a built-in administrator: admin on everything.
pub fn grants_of_admin() -> Vec<Grant> {
    vec![Grant::new(Role::Admin, Scope::All)]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(role: Role, scope: &str) -> Grant {
        Grant::new(role, Scope::parse(scope).expect("valid scope"))
    }

    #[test]
    fn role_capabilities_are_as_documented() {
        use Capability as C;
        assert_eq!(Role::Viewer.capabilities(), &[C::Read]);
        assert_eq!(
            Role::Scientist.capabilities(),
            &[C::Read, C::Track, C::Register, C::Promote]
        );
        assert_eq!(Role::Approver.capabilities(), &[C::Read, C::Approve]);
        assert_eq!(
            Role::Operator.capabilities(),
            &[C::Read, C::Deploy, C::Invoke]
        );
        assert_eq!(Role::Invoker.capabilities(), &[C::Invoke]);
        assert_eq!(Role::Auditor.capabilities(), &[C::Read, C::Audit]);
        for cap in Capability::ALL {
            assert!(Role::Admin.has(cap));
        }
        assert!(
            !Role::Scientist.has(C::Approve),
            "no self-approval by default"
        );
        assert!(!Role::Invoker.has(C::Read));
    }

    #[test]
    fn names_round_trip_through_text_and_serde() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
            assert_eq!(
                serde_json::to_string(&role).expect("ser"),
                format!("\"{role}\"")
            );
        }
        for cap in Capability::ALL {
            assert_eq!(Capability::parse(cap.as_str()), Some(cap));
            let back: Capability =
                serde_json::from_str(&format!("\"{}\"", cap.as_str())).expect("de");
            assert_eq!(back, cap);
        }
        assert_eq!(Role::parse("Admin"), Some(Role::Admin));
        assert_eq!(Role::parse("root"), None);
        assert_eq!(Role::parse(""), None);
    }

    #[test]
    fn scopes_parse_and_display_the_same_text() {
        for text in [
            "*",
            "experiment:42",
            "model:team-a/*",
            "deployment:fraud-?",
            "model:*",
        ] {
            let scope = Scope::parse(text).expect("valid");
            assert_eq!(scope.to_string(), text);
            let json = serde_json::to_string(&scope).expect("ser");
            assert_eq!(json, format!("\"{text}\""));
            let back: Scope = serde_json::from_str(&json).expect("de");
            assert_eq!(back, scope);
        }
        assert_eq!(Scope::parse("model:a:b"), Ok(Scope::Model("a:b".into())));
    }

    #[test]
    fn bad_scopes_are_bad_requests() {
        for text in [
            "",
            "**",
            "model",
            "model:",
            "run:1",
            "Model:x",
            "experiment:a\nb",
            " *",
        ] {
            let err = Scope::parse(text).expect_err(text);
            assert_eq!(err.status_code(), 400, "{text:?}");
        }
        assert!(serde_json::from_str::<Scope>("\"nope\"").is_err());
    }

    #[test]
    fn all_scope_covers_everything() {
        let g = [grant(Role::Viewer, "*")];
        assert!(allows(&g, Capability::Read, &Resource::Global));
        assert!(allows(&g, Capability::Read, &Resource::Model("m")));
        assert!(allows(&g, Capability::Read, &Resource::Experiment("1")));
        assert!(allows(&g, Capability::Read, &Resource::Deployment("d")));
        assert!(!allows(&g, Capability::Track, &Resource::Experiment("1")));
    }

    #[test]
    fn model_scope_uses_the_glob_and_only_reaches_models() {
        let g = [grant(Role::Scientist, "model:team-a/*")];
        assert!(allows(
            &g,
            Capability::Register,
            &Resource::Model("team-a/churn")
        ));
        assert!(!allows(
            &g,
            Capability::Register,
            &Resource::Model("team-b/churn")
        ));
        assert!(!allows(
            &g,
            Capability::Read,
            &Resource::Deployment("team-a/churn")
        ));
        assert!(!allows(
            &g,
            Capability::Read,
            &Resource::Experiment("team-a/churn")
        ));
    }

    #[test]
    fn experiment_scope_is_exact() {
        let g = [grant(Role::Scientist, "experiment:12")];
        assert!(allows(&g, Capability::Track, &Resource::Experiment("12")));
        assert!(!allows(&g, Capability::Track, &Resource::Experiment("123")));
        assert!(!allows(&g, Capability::Track, &Resource::Model("12")));
        let star = [grant(Role::Scientist, "experiment:*")];
        assert!(
            !allows(&star, Capability::Track, &Resource::Experiment("12")),
            "experiment ids are not globs"
        );
    }

    #[test]
    fn deployment_scope_uses_the_glob() {
        let g = [grant(Role::Invoker, "deployment:fraud-*")];
        assert!(allows(
            &g,
            Capability::Invoke,
            &Resource::Deployment("fraud-v2")
        ));
        assert!(!allows(
            &g,
            Capability::Invoke,
            &Resource::Deployment("churn")
        ));
        assert!(!allows(
            &g,
            Capability::Read,
            &Resource::Deployment("fraud-v2")
        ));
    }

    #[test]
    fn global_resource_needs_only_the_capability() {
        let g = [grant(Role::Viewer, "model:x")];
        assert!(allows(&g, Capability::Read, &Resource::Global));
        assert!(!allows(&g, Capability::Audit, &Resource::Global));
        assert!(!allows(&[], Capability::Read, &Resource::Global));
    }

    #[test]
    fn capability_and_scope_must_come_from_the_same_grant() {
        // Approve on model a, register on model b: neither approves b.
        let g = [
            grant(Role::Approver, "model:a"),
            grant(Role::Scientist, "model:b"),
        ];
        assert!(allows(&g, Capability::Approve, &Resource::Model("a")));
        assert!(allows(&g, Capability::Register, &Resource::Model("b")));
        assert!(!allows(&g, Capability::Approve, &Resource::Model("b")));
        assert!(!allows(&g, Capability::Register, &Resource::Model("a")));
    }

    #[test]
    fn admin_grants_allow_everything() {
        let g = grants_of_admin();
        assert_eq!(g, vec![Grant::new(Role::Admin, Scope::All)]);
        for cap in Capability::ALL {
            assert!(allows(&g, cap, &Resource::Deployment("anything")));
        }
    }

    #[test]
    fn grant_serialises_as_role_and_scope_text() {
        let g = grant(Role::Operator, "deployment:prod-*");
        let json = serde_json::to_value(&g).expect("ser");
        assert_eq!(
            json,
            serde_json::json!({"role": "operator", "scope": "deployment:prod-*"})
        );
        assert_eq!(serde_json::from_value::<Grant>(json).expect("de"), g);
    }
}
