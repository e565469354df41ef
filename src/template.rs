//! Routes from template.yaml: the SAM template is the one source of the API's routes, and the
//! local gateway mounts the handlers exactly where API Gateway would.

use serde_norway::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub method: String,
    /// `/v1/studies/{studyId}`
    pub path: String,
    /// The function crate, from `CodeUri: functions/<name>`.
    pub function: String,
    /// False for routes marked `Auth: Authorizer: NONE`.
    pub authorized: bool,
}

impl Route {
    pub fn key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    /// Path parameters when `path` matches this route's template.
    pub fn matches(&self, method: &str, path: &str) -> Option<Vec<(String, String)>> {
        if !self.method.eq_ignore_ascii_case(method) {
            return None;
        }
        let want: Vec<&str> = self.path.trim_matches('/').split('/').collect();
        let got: Vec<&str> = path.trim_matches('/').split('/').collect();
        if want.len() != got.len() {
            return None;
        }
        let mut params = Vec::new();
        for (w, g) in want.iter().zip(&got) {
            match w.strip_prefix('{').and_then(|w| w.strip_suffix('}')) {
                Some(name) if !g.is_empty() => params.push((name.to_owned(), (*g).to_owned())),
                Some(_) => return None,
                None if w == g => {}
                None => return None,
            }
        }
        Some(params)
    }

    /// Literal segments outrank parameters, as in API Gateway's route selection.
    fn specificity(&self) -> usize {
        self.path.split('/').filter(|s| !s.starts_with('{')).count()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("template.yaml is not valid YAML: {0}")]
    Yaml(String),
    #[error("template.yaml: {0}")]
    Shape(String),
}

/// Every HttpApi route of every function in the template, most specific first.
pub fn routes(template: &str) -> Result<Vec<Route>, TemplateError> {
    let doc: Value = serde_norway::from_str(template).map_err(|e| TemplateError::Yaml(e.to_string()))?;
    let resources = doc
        .get("Resources")
        .and_then(Value::as_mapping)
        .ok_or_else(|| TemplateError::Shape("no Resources".into()))?;
    let mut out = Vec::new();
    for (name, res) in resources {
        if res.get("Type").and_then(Value::as_str) != Some("AWS::Serverless::Function") {
            continue;
        }
        let props = res.get("Properties");
        let code_uri = props.and_then(|p| p.get("CodeUri")).and_then(Value::as_str).unwrap_or_default();
        let Some(function) = code_uri.strip_prefix("functions/") else {
            return Err(TemplateError::Shape(format!("{name:?}: CodeUri must be functions/<name>")));
        };
        let Some(events) = props.and_then(|p| p.get("Events")).and_then(Value::as_mapping) else { continue };
        for (_, ev) in events {
            if ev.get("Type").and_then(Value::as_str) != Some("HttpApi") {
                continue;
            }
            let p = ev.get("Properties");
            let field = |k: &str| p.and_then(|p| p.get(k)).and_then(Value::as_str).map(str::to_owned);
            let (Some(method), Some(path)) = (field("Method"), field("Path")) else {
                return Err(TemplateError::Shape(format!("{function}: an HttpApi event without Method and Path")));
            };
            let public = p
                .and_then(|p| p.get("Auth"))
                .and_then(|a| a.get("Authorizer"))
                .and_then(Value::as_str)
                == Some("NONE");
            out.push(Route { method: method.to_uppercase(), path, function: function.trim_end_matches('/').to_owned(), authorized: !public });
        }
    }
    out.sort_by_key(|r| std::cmp::Reverse(r.specificity()));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_routes_every_function_the_api_serves() {
        let routes = routes(include_str!("../template.yaml")).unwrap();
        for f in ctp_api::HTTP_FUNCTIONS {
            assert!(routes.iter().any(|r| r.function == f), "{f} has no route");
        }
        assert!(routes.iter().all(|r| ctp_api::HTTP_FUNCTIONS.contains(&r.function.as_str())));
        let login = routes.iter().find(|r| r.key() == "POST /v1/auth/login").unwrap();
        assert!(!login.authorized);
        let study = routes.iter().find(|r| r.key() == "GET /v1/studies/{studyId}").unwrap();
        assert!(study.authorized);
        assert_eq!(study.function, "studies");
    }

    /// The gateway mounts exactly the operations of docs/openapi.json, public exactly where the
    /// document says `security: []`, and each on the function the document tags it with.
    #[test]
    fn the_gateway_mounts_the_documented_operations() {
        let doc: serde_json::Value = serde_json::from_str(include_str!("../docs/openapi.json")).unwrap();
        let mut documented = std::collections::BTreeMap::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let public = op["security"].as_array().is_some_and(|s| s.is_empty());
                let tag = op["tags"][0].as_str().unwrap_or_default().to_owned();
                documented.insert(format!("{} {path}", method.to_uppercase()), (tag, public));
            }
        }
        let mounted: std::collections::BTreeMap<String, (String, bool)> = routes(include_str!("../template.yaml"))
            .unwrap()
            .into_iter()
            .map(|r| (r.key(), (r.function.clone(), !r.authorized)))
            .collect();
        assert_eq!(mounted, documented);
    }

    #[test]
    fn path_parameters_are_extracted() {
        let r = Route { method: "GET".into(), path: "/v1/studies/{studyId}/sites/{siteId}".into(), function: "sites".into(), authorized: true };
        assert_eq!(
            r.matches("GET", "/v1/studies/s1/sites/x9").unwrap(),
            vec![("studyId".into(), "s1".into()), ("siteId".into(), "x9".into())]
        );
        assert!(r.matches("PATCH", "/v1/studies/s1/sites/x9").is_none());
        assert!(r.matches("GET", "/v1/studies/s1/sites").is_none());
        assert!(r.matches("GET", "/v1/studies//sites/x").is_none());
    }
}
