//! `fcp --make-symlinks [DIR]`: busybox-style links named after the servers.

use std::{
    fs, io,
    path::{Path, PathBuf},
};

use crate::cli::SERVER_NAMES;

/// One server symlink and whether this run created it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Link {
    /// `DIR/<server name>`.
    pub(crate) path: PathBuf,
    /// What the link points to.
    pub(crate) target: PathBuf,
    /// False when a correct link was already there.
    pub(crate) created: bool,
}

/// Creates `federation-apiserver` and `federation-controller-manager` in `dir`, pointing at `exe`. The target is
/// relative (`fcp`) when `exe` lives in `dir` itself, so that the directory can be moved, else absolute. A link
/// that already resolves to `exe` is left as it is, so running this twice is fine.
///
/// # Errors
/// One line naming the path: `dir` is unusable, or a file that is not a link to `exe` is in the way.
pub(crate) fn make_symlinks(dir: &Path, exe: &Path) -> Result<Vec<Link>, String> {
    let exe = fs::canonicalize(exe).map_err(|err| format!("{}: {err}", exe.display()))?;
    let canonical_dir = fs::canonicalize(dir).map_err(|err| format!("{}: {err}", dir.display()))?;
    if !canonical_dir.is_dir() {
        return Err(format!("{}: not a directory", dir.display()));
    }
    let target = match exe.file_name() {
        Some(file_name) if exe.parent() == Some(canonical_dir.as_path()) => PathBuf::from(file_name),
        _ => exe.clone(),
    };
    let mut links = Vec::with_capacity(SERVER_NAMES.len());
    for name in SERVER_NAMES {
        let path = dir.join(name);
        let created = match fs::symlink_metadata(&path) {
            Ok(meta) => {
                if !meta.file_type().is_symlink() {
                    return Err(format!("{}: already exists and is not a symlink", path.display()));
                }
                if !fs::canonicalize(&path).is_ok_and(|resolved| resolved == exe) {
                    let points_to = fs::read_link(&path).unwrap_or_default();
                    return Err(format!(
                        "{}: already exists and points to {}, not to {}",
                        path.display(),
                        points_to.display(),
                        exe.display()
                    ));
                }
                false
            }
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                std::os::unix::fs::symlink(&target, &path)
                    .map_err(|err| format!("cannot create symlink {}: {err}", path.display()))?;
                true
            }
            Err(err) => return Err(format!("{}: {err}", path.display())),
        };
        links.push(Link {
            path,
            target: target.clone(),
            created,
        });
    }
    Ok(links)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_exe(dir: &Path) -> PathBuf {
        let exe = dir.join("fcp");
        fs::write(&exe, b"#!/bin/false\n").unwrap();
        exe
    }

    #[test]
    fn creates_absolute_links_elsewhere_and_is_idempotent() {
        let bin = tempfile::tempdir().unwrap();
        let links_dir = tempfile::tempdir().unwrap();
        let exe = fake_exe(bin.path());
        let exe = fs::canonicalize(exe).unwrap();

        let links = make_symlinks(links_dir.path(), &exe).unwrap();
        assert_eq!(links.len(), 2);
        for link in &links {
            assert!(link.created);
            assert_eq!(fs::read_link(&link.path).unwrap(), exe);
        }
        assert!(links_dir.path().join("federation-apiserver").exists());
        assert!(links_dir.path().join("federation-controller-manager").exists());

        let again = make_symlinks(links_dir.path(), &exe).unwrap();
        assert!(again.iter().all(|link| !link.created));
    }

    #[test]
    fn links_beside_the_executable_are_relative() {
        let bin = tempfile::tempdir().unwrap();
        let exe = fake_exe(bin.path());
        let links = make_symlinks(bin.path(), &exe).unwrap();
        for link in &links {
            assert_eq!(fs::read_link(&link.path).unwrap(), Path::new("fcp"));
            assert_eq!(
                fs::canonicalize(&link.path).unwrap(),
                fs::canonicalize(&exe).unwrap()
            );
        }
        assert!(
            make_symlinks(bin.path(), &exe)
                .unwrap()
                .iter()
                .all(|link| !link.created)
        );
    }

    #[test]
    fn something_else_in_the_way_is_an_error_naming_the_path() {
        let bin = tempfile::tempdir().unwrap();
        let exe = fake_exe(bin.path());
        let dir = tempfile::tempdir().unwrap();
        let in_the_way = dir.path().join("federation-apiserver");
        fs::write(&in_the_way, b"not a link").unwrap();
        let err = make_symlinks(dir.path(), &exe).unwrap_err();
        assert!(err.starts_with(&in_the_way.display().to_string()), "{err}");
        assert!(err.ends_with("is not a symlink"), "{err}");

        let other = dir.path().join("other");
        fs::write(&other, b"").unwrap();
        fs::remove_file(&in_the_way).unwrap();
        std::os::unix::fs::symlink(&other, &in_the_way).unwrap();
        let err = make_symlinks(dir.path(), &exe).unwrap_err();
        assert!(err.contains("points to"), "{err}");
    }

    #[test]
    fn a_missing_directory_is_an_error_naming_it() {
        let bin = tempfile::tempdir().unwrap();
        let exe = fake_exe(bin.path());
        let missing = bin.path().join("no-such-dir");
        let err = make_symlinks(&missing, &exe).unwrap_err();
        assert!(err.starts_with(&missing.display().to_string()), "{err}");
    }
}
