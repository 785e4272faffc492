//! Finding the project's Python venv (dsmr-parser lives there): `$NOTCH_VENV`, else `<repo>/.venv`.

use std::path::PathBuf;

pub fn venv_python() -> PathBuf {
    let venv = std::env::var_os("NOTCH_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv"));
    let python = venv.join("bin/python");
    assert!(
        python.exists(),
        "no Python venv at {}: create it with `python3 -m venv .venv && .venv/bin/pip install -r p1/tests/py/requirements.txt` \
         at the repository root, or point NOTCH_VENV at one",
        venv.display()
    );
    python
}

pub fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/py").join(name)
}
