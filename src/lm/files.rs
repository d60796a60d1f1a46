//! The files a run reads and writes: bounded reads (a device such as `/dev/zero` or a
//! pipe that never ends is refused, not read until memory runs out), atomic writes (a
//! temporary file in the target's folder, flushed to disk, then renamed over the target,
//! so a failed or interrupted write never leaves a truncated file or destroys the previous
//! one), and the checks a long run makes of its output paths before it starts.

use super::error::{LmError, LmResult};
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> LmError + '_ {
    move |source| LmError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Reads the whole file at `path`, refusing more than `limit` bytes: a regular file whose
/// size exceeds it is refused before anything is read; anything else (a pipe, a device)
/// is read until `limit + 1` bytes have come, then refused.
///
/// ```
/// use recur::lm::files::read_bounded;
/// let path = std::env::temp_dir().join(format!("recur-doc-read-{}", std::process::id()));
/// std::fs::write(&path, b"0123456789")?;
/// assert_eq!(read_bounded(&path, 10)?, b"0123456789");
/// let err = read_bounded(&path, 9).unwrap_err();
/// assert!(err.to_string().contains("more than 9 bytes"), "{err}");
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`LmError::Io`] naming `path` if it cannot be opened or read, or if it holds more than
/// `limit` bytes (error kind [`io::ErrorKind::FileTooLarge`]).
pub fn read_bounded(path: &Path, limit: u64) -> LmResult<Vec<u8>> {
    let too_large = || LmError::Io {
        path: path.display().to_string(),
        source: io::Error::new(
            io::ErrorKind::FileTooLarge,
            format!("more than {limit} bytes; refused"),
        ),
    };
    let file = File::open(path).map_err(io_err(path))?;
    let meta = file.metadata().map_err(io_err(path))?;
    if meta.is_dir() {
        return Err(LmError::Io {
            path: path.display().to_string(),
            source: io::Error::new(io::ErrorKind::IsADirectory, "a folder, not a file"),
        });
    }
    if meta.is_file() && meta.len() > limit {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io_err(path))?;
    if bytes.len() as u64 > limit {
        return Err(too_large());
    }
    Ok(bytes)
}

/// A name for a temporary file next to `path` that no other writer of this process or of
/// another one picks at the same time.
fn temp_path(path: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = path
        .file_name()
        .map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
    path.with_file_name(format!(".{name}.{}.{n}.tmp", std::process::id()))
}

/// The file [`write_atomic`] replaces for `path`: `path` itself, or the file that a
/// symbolic link at `path` points to (the link stays a link). An existing `path` that is
/// not a regular file (a folder, a device such as `/dev/null`, a pipe, a socket) is an
/// error: renaming a file over it would replace it, and a user with the right to do so
/// (root, for `/dev/null`) would lose it.
fn write_target(path: &Path) -> io::Result<PathBuf> {
    let target = match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => std::fs::canonicalize(path).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("a symbolic link whose target cannot be resolved: {e}"),
            )
        })?,
        _ => path.to_path_buf(),
    };
    match std::fs::metadata(&target) {
        Ok(m) if m.is_dir() => Err(io::Error::new(
            io::ErrorKind::IsADirectory,
            "names a folder, not a file to write",
        )),
        Ok(m) if !m.is_file() => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file (a device, a pipe or a socket): only regular files are written",
        )),
        _ => Ok(target),
    }
}

/// Writes `path` atomically with what `write` puts into the writer it is given: into a
/// new temporary file in the same folder, flushed and synced to disk, then renamed over
/// `path`. If `write` or any step fails, the temporary file is removed and `path` is
/// untouched: it keeps its previous content, or stays absent. A symbolic link at `path`
/// is followed (the file it points to is replaced, the link kept); a `path` that exists
/// and is not a regular file (a folder, a device, a pipe, a socket) is refused untouched.
///
/// ```
/// use recur::lm::files::write_atomic;
/// use std::io::Write;
/// let path = std::env::temp_dir().join(format!("recur-doc-atomic-{}", std::process::id()));
/// write_atomic(&path, |w| w.write_all(b"first"))?;
/// // A write that fails half-way leaves the previous content.
/// let err = write_atomic(&path, |w| {
///     w.write_all(b"sec")?;
///     Err(std::io::Error::other("disk full"))
/// })
/// .unwrap_err();
/// assert!(err.to_string().contains("disk full"), "{err}");
/// assert_eq!(std::fs::read(&path)?, b"first");
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`LmError::Io`] naming `path`, with the error of the step that failed.
pub fn write_atomic(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> LmResult<()> {
    let io_error = |source| LmError::Io {
        path: path.display().to_string(),
        source,
    };
    let target = write_target(path).map_err(io_error)?;
    let tmp = temp_path(&target);
    let result = (|| {
        let mut file = File::options().write(true).create_new(true).open(&tmp)?;
        let mut buffered = io::BufWriter::new(&mut file);
        write(&mut buffered)?;
        buffered.flush()?;
        drop(buffered);
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, &target)?;
        // The rename itself reaches the disk with the folder's entry; a folder that
        // cannot be opened or synced (some file systems) does not undo the write.
        if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    })();
    result.map_err(|source| {
        let _ = std::fs::remove_file(&tmp);
        io_error(source)
    })
}

/// Checks, before a long run, that [`write_atomic`] will be able to write `path` at its
/// end: the path names a regular file or none yet (not a folder, a device, a pipe or a
/// socket), in a folder where a new file can be created. The check creates and removes a
/// temporary file next to `path` (next to the file a symbolic link points to); `path`
/// itself is not touched.
///
/// ```
/// use recur::lm::files::check_writable;
/// let dir = std::env::temp_dir();
/// check_writable(&dir.join("model.safetensors"))?;
/// assert!(check_writable(&dir).is_err()); // a folder
/// assert!(check_writable(std::path::Path::new("/nonexistent-folder/m.safetensors")).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`LmError::Io`] naming `path` and saying why it cannot be written.
pub fn check_writable(path: &Path) -> LmResult<()> {
    let fail = |source| LmError::Io {
        path: path.display().to_string(),
        source,
    };
    if path.is_dir() || path.as_os_str().is_empty() || path.file_name().is_none() {
        return Err(fail(io::Error::new(
            io::ErrorKind::IsADirectory,
            "names a folder, not a file to write",
        )));
    }
    let target = write_target(path).map_err(fail)?;
    if std::fs::metadata(&target).is_ok_and(|m| m.permissions().readonly()) {
        return Err(fail(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "the file exists and is read-only",
        )));
    }
    let tmp = temp_path(&target);
    File::options()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .map_err(|e| {
            fail(io::Error::new(
                e.kind(),
                format!("cannot create a file in its folder: {e}"),
            ))
        })?;
    std::fs::remove_file(&tmp).map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("recur-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }

    fn leftovers(path: &Path) -> Vec<String> {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(&format!(".{name}.")))
            .collect()
    }

    #[test]
    fn a_failed_write_keeps_the_previous_file_and_leaves_no_temporary() {
        let path = scratch("keep.bin");
        write_atomic(&path, |w| w.write_all(&[7u8; 10_000])).unwrap();
        for fail_after in [0usize, 1, 4096, 9_999] {
            let err = write_atomic(&path, |w| {
                w.write_all(&vec![1u8; fail_after])?;
                Err(io::Error::new(io::ErrorKind::StorageFull, "injected"))
            })
            .unwrap_err();
            let msg = err.to_string();
            assert!(
                msg.contains("keep.bin") && msg.contains("injected"),
                "{msg}"
            );
            assert_eq!(std::fs::read(&path).unwrap(), vec![7u8; 10_000]);
            assert!(leftovers(&path).is_empty(), "{:?}", leftovers(&path));
        }
        // A write into a missing folder names the path and creates nothing.
        let missing = scratch("no-such-folder").join("m.bin");
        let err = write_atomic(&missing, |w| w.write_all(b"x")).unwrap_err();
        assert!(err.to_string().contains("no-such-folder"), "{err}");
    }

    #[test]
    fn devices_and_large_files_are_refused() {
        let err = read_bounded(Path::new("/dev/zero"), 1 << 20).unwrap_err();
        assert!(err.to_string().contains("more than 1048576 bytes"), "{err}");
        let dir = scratch("");
        assert!(read_bounded(&dir, 100).is_err());
        let path = scratch("ten.bin");
        std::fs::write(&path, [0u8; 10]).unwrap();
        assert_eq!(read_bounded(&path, 10).unwrap().len(), 10);
        assert!(read_bounded(&path, 9).is_err());
    }

    /// A socket file: a file that is not a regular one, made without privileges.
    #[cfg(unix)]
    fn socket(name: &str) -> (PathBuf, std::os::unix::net::UnixListener) {
        let path = scratch(name);
        let _ = std::fs::remove_file(&path);
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        (path, listener)
    }

    #[cfg(unix)]
    #[test]
    fn files_that_are_not_regular_are_refused_and_kept() {
        use std::os::unix::fs::FileTypeExt;
        let (path, _listener) = socket("sock");
        let is_socket = |p: &Path| {
            std::fs::symlink_metadata(p)
                .unwrap()
                .file_type()
                .is_socket()
        };
        let err = write_atomic(&path, |w| w.write_all(b"model")).unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
        assert!(err.to_string().contains("sock"), "{err}");
        assert!(is_socket(&path), "the socket was replaced");
        assert!(leftovers(&path).is_empty());
        let err = check_writable(&path).unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
        assert!(is_socket(&path));
        // The same through a symbolic link to it.
        let link = scratch("link-to-sock");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&path, &link).unwrap();
        assert!(write_atomic(&link, |w| w.write_all(b"model")).is_err());
        assert!(is_socket(&path));
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
    }

    #[cfg(unix)]
    #[test]
    fn a_symbolic_link_is_followed_and_kept() {
        let real = scratch("real.bin");
        let link = scratch("link.bin");
        std::fs::write(&real, b"old").unwrap();
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&real, &link).unwrap();
        check_writable(&link).unwrap();
        write_atomic(&link, |w| w.write_all(b"new")).unwrap();
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read(&real).unwrap(), b"new");
        assert!(leftovers(&real).is_empty() && leftovers(&link).is_empty());
        // A link to nothing: refused, the link kept.
        let dangling = scratch("dangling.bin");
        let _ = std::fs::remove_file(&dangling);
        std::os::unix::fs::symlink(scratch("nothing-here"), &dangling).unwrap();
        let err = write_atomic(&dangling, |w| w.write_all(b"x")).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert!(std::fs::symlink_metadata(&dangling)
            .unwrap()
            .file_type()
            .is_symlink());
    }

    #[test]
    fn check_writable_touches_nothing() {
        let path = scratch("exists.txt");
        std::fs::write(&path, b"precious").unwrap();
        check_writable(&path).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"precious");
        assert!(leftovers(&path).is_empty());
        assert!(check_writable(&scratch("missing-dir").join("x")).is_err());
    }
}
