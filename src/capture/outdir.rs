//! Output files of a long-running `capture` (report snapshots, `--flows`, `--write-pcap`), written
//! so that nobody else on the box can redirect or read them: every file is opened relative to one
//! directory handle taken when the capture starts, created with `O_EXCL|O_NOFOLLOW` (a planted
//! symlink or hard link is never written through), given mode 0600 (0640 with `--group`), and
//! put in place with a rename inside that directory.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::OwnedFd;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{AtFlags, Gid, Mode, OFlags, Uid};

/// Who the files belong to.
#[derive(Clone, Copy, Debug, Default)]
pub struct Owners {
    /// The user the capture drops to (root only): a directory we create is handed to it, or it
    /// could not write a single snapshot into it.
    pub user: Option<(u32, u32)>,
    /// `--group`: files 0640 and the directory 0750 for this group.
    pub group: Option<u32>,
}

/// An output directory, held open for the whole capture.
#[derive(Debug)]
pub struct OutDir {
    fd: OwnedFd,
    path: PathBuf,
    group: Option<u32>,
}

fn err(path: &Path, what: impl std::fmt::Display) -> String {
    format!("{}: {what}", path.display())
}

/// The permission bits and owner a directory must have for reports to be trusted.
fn check_dir(path: &Path, st: &rustix::fs::Stat, owners: &Owners) -> Result<(), String> {
    if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
        return Err(err(path, "not a directory"));
    }
    if st.st_mode & 0o022 != 0 {
        return Err(format!(
            "refusing to write into {}: group or other users can write to it (mode {:04o}; chmod go-w, or choose another directory)",
            path.display(),
            st.st_mode & 0o7777
        ));
    }
    let me = rustix::process::geteuid().as_raw();
    let ok_owner =
        st.st_uid == 0 || st.st_uid == me || owners.user.is_some_and(|(u, _)| u == st.st_uid);
    if !ok_owner {
        return Err(format!(
            "refusing to write into {}: it belongs to uid {}, who could swap the files in it",
            path.display(),
            st.st_uid
        ));
    }
    Ok(())
}

impl OutDir {
    /// Open `path` as an output directory, creating it if missing. A directory we create is made
    /// 0700 by `mkdir` itself (no window in which another user could enter or swap it), then
    /// handed to the capture user and opened to 0750 for `--group`. An existing one must not be
    /// writable by group or others, and must belong to root, us or the capture user.
    pub fn open(path: &Path, owners: Owners) -> Result<OutDir, String> {
        let (parent, leaf) = match path.components().next_back() {
            Some(Component::Normal(leaf)) => (
                path.parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .unwrap_or(Path::new(".")),
                Some(leaf),
            ),
            _ => (path, None),
        };
        let fd = match leaf {
            None => rustix::fs::open(
                parent,
                OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| err(path, io::Error::from(e)))?,
            Some(leaf) => {
                if !parent.exists() {
                    std::fs::create_dir_all(parent)
                        .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
                }
                // O_PATH: the parent need only be searchable (a 0711 directory), not readable.
                let pfd = rustix::fs::open(
                    parent,
                    OFlags::DIRECTORY | OFlags::PATH | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(|e| err(parent, io::Error::from(e)))?;
                let created = match rustix::fs::mkdirat(&pfd, leaf, Mode::from_raw_mode(0o700)) {
                    Ok(()) => true,
                    Err(rustix::io::Errno::EXIST) => false,
                    Err(e) => {
                        return Err(format!(
                            "cannot create {}: {}",
                            path.display(),
                            io::Error::from(e)
                        ))
                    }
                };
                let fd = rustix::fs::openat(
                    &pfd,
                    leaf,
                    OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::RDONLY | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(|e| match e {
                    rustix::io::Errno::LOOP | rustix::io::Errno::NOTDIR => err(
                        path,
                        "is a symbolic link or not a directory (refusing to follow it)",
                    ),
                    e => err(path, io::Error::from(e)),
                })?;
                if created {
                    // Mode first: once the directory is the capture user's, root without
                    // CAP_FOWNER (the systemd unit's bounding set) may no longer change it.
                    let mode = if owners.group.is_some() { 0o750 } else { 0o700 };
                    rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode))
                        .map_err(|e| err(path, io::Error::from(e)))?;
                    let uid = owners.user.map(|(u, _)| Uid::from_raw_unchecked(u));
                    let gid = owners
                        .group
                        .or(owners.user.map(|(_, g)| g))
                        .map(Gid::from_raw_unchecked);
                    if uid.is_some() || gid.is_some() {
                        rustix::fs::fchown(&fd, uid, gid).map_err(|e| {
                            format!(
                                "cannot hand {} to the capture user: {}",
                                path.display(),
                                io::Error::from(e)
                            )
                        })?;
                    }
                }
                fd
            }
        };
        let st = rustix::fs::fstat(&fd).map_err(|e| err(path, io::Error::from(e)))?;
        check_dir(path, &st, &owners)?;
        Ok(OutDir {
            fd,
            path: path.to_path_buf(),
            group: owners.group,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Mode of the files we create: readable by the owner only, or by `--group` too.
    pub fn file_mode(&self) -> u32 {
        if self.group.is_some() {
            0o640
        } else {
            0o600
        }
    }

    /// A new file `name` in the directory: `O_EXCL|O_NOFOLLOW`, so an existing file, symlink or
    /// hard link of that name is an error rather than written through. Mode and group are set on
    /// the open file (the umask cannot widen or narrow them).
    pub fn create_new(&self, name: &str) -> io::Result<File> {
        if name.is_empty() || name.contains('/') || name == "." || name == ".." {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("invalid file name {name:?}"),
            ));
        }
        let fd = rustix::fs::openat(
            &self.fd,
            name,
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(self.file_mode()),
        )?;
        if let Some(g) = self.group {
            rustix::fs::fchown(&fd, None, Some(Gid::from_raw_unchecked(g)))?;
        }
        rustix::fs::fchmod(&fd, Mode::from_raw_mode(self.file_mode()))?;
        Ok(File::from(fd))
    }

    /// Remove `name` (a symlink is removed itself, never its target).
    pub fn remove(&self, name: &str) -> io::Result<()> {
        rustix::fs::unlinkat(&self.fd, name, AtFlags::empty()).map_err(Into::into)
    }

    /// A fresh temporary file for `name`: whatever was left under the temporary name (a crash,
    /// or something planted) is removed first, never opened.
    fn fresh_tmp(&self, name: &str) -> io::Result<(String, File)> {
        let tmp = format!(".{name}.tmp");
        match self.remove(&tmp) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let f = self.create_new(&tmp)?;
        Ok((tmp, f))
    }

    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        rustix::fs::renameat(&self.fd, from, &self.fd, to)?;
        Ok(())
    }

    /// Write `bytes` to `name` so that a reader (or a crash) sees the old file or the new one,
    /// never half of one: temporary file, fsync, rename inside the directory, fsync the directory.
    /// A symlink planted at `name` is replaced, not followed.
    pub fn write_atomic(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        let (tmp, mut f) = self.fresh_tmp(name)?;
        let res = f.write_all(bytes).and_then(|()| f.sync_all());
        if let Err(e) = res {
            let _ = self.remove(&tmp);
            return Err(e);
        }
        self.rename(&tmp, name)?;
        rustix::fs::fsync(&self.fd)?;
        Ok(())
    }

    /// A file written as it goes (`--flows`): created fresh and renamed over `name` at once, so
    /// a previous run's file is replaced, never truncated through a link.
    pub fn replace_streaming(&self, name: &str) -> io::Result<File> {
        let (tmp, f) = self.fresh_tmp(name)?;
        self.rename(&tmp, name)?;
        Ok(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    fn scratch(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("egressmap-outdir-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn creates_the_directory_0700_and_files_0600() {
        let d = scratch("modes");
        let out = OutDir::open(&d, Owners::default()).unwrap();
        assert_eq!(
            std::fs::metadata(&d).unwrap().permissions().mode() & 0o7777,
            0o700
        );
        out.write_atomic("report.json", b"{}").unwrap();
        let m = std::fs::metadata(d.join("report.json")).unwrap();
        assert_eq!(m.permissions().mode() & 0o7777, 0o600);
        assert_eq!(std::fs::read(d.join("report.json")).unwrap(), b"{}");
        // No temporary file left behind.
        let names: Vec<_> = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["report.json"]);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn planted_symlinks_are_not_followed() {
        let d = scratch("symlink");
        std::fs::create_dir(&d).unwrap();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700)).unwrap();
        let victim = d.join("victim");
        std::fs::write(&victim, b"precious").unwrap();
        // At the final name and at the temporary name, and for the streaming flow log.
        std::os::unix::fs::symlink(&victim, d.join("report.json")).unwrap();
        std::os::unix::fs::symlink(&victim, d.join(".report.txt.tmp")).unwrap();
        std::os::unix::fs::symlink(&victim, d.join("flows.jsonl")).unwrap();
        let out = OutDir::open(&d, Owners::default()).unwrap();
        out.write_atomic("report.json", b"new").unwrap();
        out.write_atomic("report.txt", b"new").unwrap();
        let mut f = out.replace_streaming("flows.jsonl").unwrap();
        f.write_all(b"flow\n").unwrap();
        drop(f);
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
        for name in ["report.json", "report.txt", "flows.jsonl"] {
            let m = std::fs::symlink_metadata(d.join(name)).unwrap();
            assert!(m.file_type().is_file(), "{name} is not a regular file");
            assert_eq!(m.mode() & 0o7777, 0o600, "{name}");
        }
        assert!(
            out.create_new("victim").is_err(),
            "O_EXCL: an existing file is not reused"
        );
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn the_directory_itself_may_not_be_a_symlink() {
        let d = scratch("dirlink");
        std::fs::create_dir(&d).unwrap();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700)).unwrap();
        let real = d.join("real");
        std::fs::create_dir(&real).unwrap();
        std::os::unix::fs::symlink(&real, d.join("out")).unwrap();
        let e = OutDir::open(&d.join("out"), Owners::default()).unwrap_err();
        assert!(e.contains("symbolic link"), "{e}");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn group_or_other_writable_directories_are_refused() {
        for mode in [0o770, 0o707, 0o777] {
            let d = scratch(&format!("w{mode:o}"));
            std::fs::create_dir(&d).unwrap();
            std::fs::set_permissions(&d, std::fs::Permissions::from_mode(mode)).unwrap();
            let e = OutDir::open(&d, Owners::default()).unwrap_err();
            assert!(
                e.contains("group or other users can write"),
                "{mode:o}: {e}"
            );
            std::fs::remove_dir_all(&d).unwrap();
        }
    }

    #[test]
    fn group_gets_0640_files_and_a_0750_directory() {
        let d = scratch("group");
        // Our own primary group: one we can always give files to.
        let gid = rustix::process::getegid().as_raw();
        let out = OutDir::open(
            &d,
            Owners {
                user: None,
                group: Some(gid),
            },
        )
        .unwrap();
        assert_eq!(
            std::fs::metadata(&d).unwrap().permissions().mode() & 0o7777,
            0o750
        );
        out.write_atomic("report.json", b"{}").unwrap();
        let m = std::fs::metadata(d.join("report.json")).unwrap();
        assert_eq!(m.mode() & 0o7777, 0o640);
        assert_eq!(m.gid(), gid);
        std::fs::remove_dir_all(&d).unwrap();
    }
}
