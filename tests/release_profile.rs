//! The release profile is chosen on purpose: Lambda binaries must unwind on a panic, because
//! lambda_runtime can only catch a handler's panic and report it as an invocation error when it
//! unwinds; with `panic = "abort"` one bad request would kill the execution environment. Cargo
//! never builds tests with abort, so only reading the manifest can catch the change.

fn release_profile() -> Vec<String> {
    let manifest = include_str!("../Cargo.toml");
    manifest
        .lines()
        .skip_while(|l| l.trim() != "[profile.release]")
        .skip(1)
        .take_while(|l| !l.trim_start().starts_with('['))
        .map(|l| l.split('#').next().unwrap_or_default().replace(' ', ""))
        .filter(|l| !l.is_empty())
        .collect()
}

#[test]
fn release_binaries_unwind_on_panic_and_are_built_small() {
    let profile = release_profile();
    assert!(profile.contains(&r#"panic="unwind""#.to_owned()), "{profile:?}");
    assert!(profile.contains(&"strip=true".to_owned()), "{profile:?}");
    assert!(profile.iter().any(|l| l.starts_with("lto=")), "{profile:?}");
    assert!(profile.iter().any(|l| l.starts_with("opt-level=")), "{profile:?}");
}
