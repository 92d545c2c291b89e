//! Giving up root once the interface is open: the capture then runs as `--user` (default
//! `nobody`), with no supplementary groups but `--group`, and with `no_new_privs` so that nothing
//! it runs (nothing, today) could regain privileges through a setuid binary or file capabilities.

/// The uid and gid of `user` when we run as root and will switch to it; `None` when not root
/// (nothing to drop, files we create are already ours).
pub fn target_ids(user: &str) -> Result<Option<(u32, u32)>, String> {
    if rustix::process::getuid().as_raw() != 0 {
        return Ok(None);
    }
    let cname = std::ffi::CString::new(user).map_err(|_| format!("invalid user {user:?}"))?;
    // SAFETY: getpwnam reads a NUL-terminated string we own; the result is checked for null and
    // copied out before any other call that could overwrite its static buffer.
    unsafe {
        let pw = libc::getpwnam(cname.as_ptr());
        if pw.is_null() {
            return Err(format!("no such user {user:?} (--user)"));
        }
        Ok(Some(((*pw).pw_uid, (*pw).pw_gid)))
    }
}

/// The gid of `--group` (a name, or a number).
pub fn group_id(group: &str) -> Result<u32, String> {
    if let Ok(n) = group.parse::<u32>() {
        return Ok(n);
    }
    let cname = std::ffi::CString::new(group).map_err(|_| format!("invalid group {group:?}"))?;
    // SAFETY: as in `target_ids`, for getgrnam.
    unsafe {
        let gr = libc::getgrnam(cname.as_ptr());
        if gr.is_null() {
            return Err(format!("no such group {group:?} (--group)"));
        }
        Ok((*gr).gr_gid)
    }
}

/// Give up root after opening the device and the files that need it: from here on only `user`
/// runs, member of `group` alone (so it can give its files to that group). Sets `no_new_privs`
/// in every case. Returns a warning to print when `user` is root itself.
pub fn drop_privileges(user: &str, group: Option<u32>) -> Result<Option<String>, String> {
    let warning = match target_ids(user)? {
        None => None,
        Some((uid, gid)) => {
            let groups: Vec<libc::gid_t> = group.into_iter().collect();
            // SAFETY: plain system calls on a slice we own; order matters (groups and gid before
            // uid, which gives up the right to change them).
            unsafe {
                if libc::setgroups(groups.len(), groups.as_ptr()) != 0
                    || libc::setgid(gid) != 0
                    || libc::setuid(uid) != 0
                {
                    return Err(format!(
                        "cannot drop privileges to {user}: {}",
                        std::io::Error::last_os_error()
                    ));
                }
            }
            (uid == 0).then(|| {
                format!(
                    "warning: --user {user} keeps root: a flaw in a packet parser would then run as root; use an unprivileged user (the default is nobody)"
                )
            })
        }
    };
    rustix::thread::set_no_new_privs(true)
        .map_err(|e| format!("cannot set no_new_privs: {}", std::io::Error::from(e)))?;
    Ok(warning)
}
