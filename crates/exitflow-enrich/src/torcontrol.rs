//! The little of tor's control protocol (control-spec) exitflow needs: ask
//! a running tor for its exit policy as tor itself expands it
//! (`GETINFO exit-policy/full`), so that the policy recorded beside the data
//! is tor's, not a copy of tor's lists that ages (tor 0.4.9 added ports
//! 18080-18081 and 18089 to its reduced policy).
//!
//! [`exit_policy_full`] drives one connection; [`parse_reply`] reads one
//! reply from bytes (stateless, for the tests and the fuzzer).
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::exitpolicy::{ExitPolicy, Rule};

/// Largest reply read from tor (a full exit policy is a few KiB).
pub const MAX_REPLY_BYTES: usize = 1 << 20;
/// Size of tor's authentication cookie.
pub const COOKIE_LEN: usize = 32;

/// Why tor's exit policy could not be had.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// Talking to tor failed.
    #[error("tor's control port")]
    Io(#[from] std::io::Error),
    /// tor answered something else than the protocol says.
    #[error("tor's control port: {0}")]
    Protocol(String),
    /// tor refused a command (its status code and text).
    #[error("tor's control port refused {command}: {reply}")]
    Refused {
        /// The command.
        command: &'static str,
        /// tor's answer.
        reply: String,
    },
    /// The authentication cookie could not be read.
    #[error("tor's authentication cookie {path}")]
    Cookie {
        /// The cookie file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

/// One reply: its status code, and its lines (data lines of `+` replies
/// included, without the dot-stuffing).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The three-digit status of the last line (`250` is OK).
    pub status: u16,
    /// Each line's text after the status and separator; a data block's
    /// lines follow its `+` line.
    pub lines: Vec<String>,
}

/// Reads one reply from the start of `bytes`: `Ok(Some((reply, used)))` when
/// it is complete, `Ok(None)` when more bytes are needed.
pub fn parse_reply(bytes: &[u8]) -> Result<Option<(Reply, usize)>, ControlError> {
    let mut lines = Vec::new();
    let mut pos = 0;
    let mut in_data = false;
    loop {
        let Some(nl) = bytes[pos..].iter().position(|b| *b == b'\n') else {
            return Ok(None);
        };
        let raw = &bytes[pos..pos + nl];
        pos += nl + 1;
        let line = String::from_utf8_lossy(raw.strip_suffix(b"\r").unwrap_or(raw)).into_owned();
        if in_data {
            if line == "." {
                in_data = false;
            } else {
                lines.push(line.strip_prefix('.').map_or(line.clone(), str::to_owned));
            }
            continue;
        }
        let bad = || ControlError::Protocol(format!("unexpected reply line {line:?}"));
        let (code, sep) = (
            line.get(..3).ok_or_else(bad)?,
            line.get(3..4).ok_or_else(bad)?,
        );
        let status: u16 = code.parse().map_err(|_| bad())?;
        lines.push(line[4..].to_owned());
        match sep {
            " " => return Ok(Some((Reply { status, lines }, pos))),
            "-" => {}
            "+" => in_data = true,
            _ => return Err(bad()),
        }
    }
}

/// A connection and the bytes read past the last reply.
struct Conn<S> {
    stream: S,
    pending: Vec<u8>,
}

impl<S: Read + Write> Conn<S> {
    /// Sends `line` and reads its reply (bounded by [`MAX_REPLY_BYTES`]).
    fn ask(&mut self, command: &'static str, line: &str) -> Result<Reply, ControlError> {
        self.stream.write_all(format!("{line}\r\n").as_bytes())?;
        let mut chunk = [0u8; 4096];
        loop {
            if let Some((reply, used)) = parse_reply(&self.pending)? {
                self.pending.drain(..used);
                if reply.status != 250 {
                    return Err(ControlError::Refused {
                        command,
                        reply: reply.lines.join(" "),
                    });
                }
                return Ok(reply);
            }
            if self.pending.len() > MAX_REPLY_BYTES {
                return Err(ControlError::Protocol(format!(
                    "reply to {command} over {MAX_REPLY_BYTES} bytes"
                )));
            }
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                return Err(ControlError::Protocol(format!(
                    "connection closed during {command}"
                )));
            }
            self.pending.extend_from_slice(&chunk[..n]);
        }
    }
}

/// The value of `KEY=` in a PROTOCOLINFO line (quoted or bare).
fn field(line: &str, key: &str) -> Option<String> {
    let rest = line.split(&format!("{key}=")).nth(1)?;
    if let Some(q) = rest.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = q.chars();
        while let Some(c) = chars.next() {
            match c {
                '"' => return Some(out),
                '\\' => out.push(chars.next()?),
                c => out.push(c),
            }
        }
        None
    } else {
        rest.split_whitespace().next().map(str::to_owned)
    }
}

/// tor's exit policy, as it expands it, and its version, over a connection
/// to its control port (TCP or Unix socket): PROTOCOLINFO, AUTHENTICATE
/// (none, or the cookie it names), GETINFO exit-policy/full. The caller
/// sets the connection's timeouts.
pub fn exit_policy_full<S: Read + Write>(stream: S) -> Result<(Vec<String>, String), ControlError> {
    let mut s = Conn {
        stream,
        pending: Vec::new(),
    };
    let info = s.ask("PROTOCOLINFO", "PROTOCOLINFO 1")?;
    let auth = info
        .lines
        .iter()
        .find(|l| l.starts_with("AUTH "))
        .ok_or_else(|| ControlError::Protocol("PROTOCOLINFO without AUTH".into()))?;
    let methods = field(auth, "METHODS").unwrap_or_default();
    let version = info
        .lines
        .iter()
        .find_map(|l| field(l, "Tor"))
        .unwrap_or_default();
    let methods: Vec<&str> = methods.split(',').collect();
    let line = if methods.contains(&"NULL") {
        "AUTHENTICATE".to_owned()
    } else if methods.contains(&"COOKIE") {
        let path = PathBuf::from(
            field(auth, "COOKIEFILE")
                .ok_or_else(|| ControlError::Protocol("COOKIE without COOKIEFILE".into()))?,
        );
        let cookie = read_cookie(&path)?;
        let hex: String = cookie.iter().map(|b| format!("{b:02X}")).collect();
        format!("AUTHENTICATE {hex}")
    } else {
        return Err(ControlError::Protocol(format!(
            "tor asks for {methods:?}: exitflow authenticates with no password or tor's cookie (CookieAuthentication 1)"
        )));
    };
    s.ask("AUTHENTICATE", &line)?;
    let reply = s.ask("GETINFO exit-policy/full", "GETINFO exit-policy/full")?;
    let _ = s.stream.write_all(b"QUIT\r\n");
    // The data block follows the `exit-policy/full=` line; the last line is OK.
    let mut rules: Vec<String> = reply
        .lines
        .iter()
        .skip_while(|l| !l.starts_with("exit-policy/full="))
        .skip(1)
        .cloned()
        .collect();
    rules.pop();
    Ok((rules, version))
}

fn read_cookie(path: &Path) -> Result<Vec<u8>, ControlError> {
    let cookie = std::fs::read(path).map_err(|source| ControlError::Cookie {
        path: path.to_owned(),
        source,
    })?;
    if cookie.len() != COOKIE_LEN {
        return Err(ControlError::Cookie {
            path: path.to_owned(),
            source: std::io::Error::other(format!("{} bytes, not {COOKIE_LEN}", cookie.len())),
        });
    }
    Ok(cookie)
}

/// The first line of a policy file: what it is and which tor said it.
const FILE_HEADER: &str = "# tor's exit policy as tor expands it (GETINFO exit-policy/full), tor ";

/// Writes `rules` to `path` (mode 0644: public, as in the relay's
/// descriptor), replacing any older file in one rename.
pub fn write_policy_file(path: &Path, rules: &[String], version: &str) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut text = format!("{FILE_HEADER}{version}\n");
    for r in rules {
        text.push_str(r);
        text.push('\n');
    }
    std::fs::write(&tmp, text)?;
    #[cfg(unix)]
    std::fs::set_permissions(&tmp, std::os::unix::fs::PermissionsExt::from_mode(0o644))?;
    std::fs::rename(&tmp, path)
}

/// Reads a file [`write_policy_file`] wrote: the ports it lets out to the
/// Internet, and the version of tor that said so.
pub fn load_policy_file(path: &Path) -> Result<(ExitPolicy, String), crate::EnrichError> {
    let text = std::fs::read_to_string(path).map_err(|source| crate::EnrichError::Io {
        path: path.to_owned(),
        source,
    })?;
    let malformed = |line: usize, why: String| crate::EnrichError::Malformed {
        path: path.to_owned(),
        source: crate::LineError::new(line, why),
    };
    let version = text
        .lines()
        .next()
        .and_then(|l| l.strip_prefix(FILE_HEADER))
        .ok_or_else(|| {
            malformed(
                1,
                "not a policy file of `exitflow relay exit-policy`".into(),
            )
        })?
        .to_owned();
    let rules: Vec<String> = text.lines().skip(1).map(str::to_owned).collect();
    if rules.is_empty() {
        return Err(malformed(2, "no rules".into()));
    }
    let policy = summarise(&rules).map_err(|why| malformed(2, why))?;
    Ok((policy, version))
}

/// The ports tor's full exit policy lets out to the Internet (its IPv4
/// rules for every address; rules for single networks, as the private ones
/// and the relay's own address, do not make a port rejected).
pub fn summarise(rules: &[String]) -> Result<ExitPolicy, String> {
    let parsed: Vec<Rule> = rules
        .iter()
        .map(|r| Rule::parse(r))
        .collect::<Result<_, _>>()?;
    Ok(ExitPolicy::from_rules(&parsed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// A control connection answering from a script (what tor says), and
    /// keeping what it was sent.
    struct Scripted {
        answers: Cursor<Vec<u8>>,
        sent: Vec<u8>,
    }

    impl Read for Scripted {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.answers.read(buf)
        }
    }

    impl Write for Scripted {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.sent.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    const FULL: &str = "250+exit-policy/full=\r\nreject6 *:*\r\nreject 10.0.0.0/8:*\r\nreject 192.0.2.10:*\r\naccept *:80\r\naccept *:443\r\naccept *:18080-18081\r\nreject *:*\r\n.\r\n250 OK\r\n";

    #[test]
    fn every_prefix_of_a_reply_is_incomplete_and_the_whole_one_is_read() {
        let bytes = FULL.as_bytes();
        for n in 0..bytes.len() {
            assert!(parse_reply(&bytes[..n]).unwrap().is_none(), "{n}");
        }
        let (r, used) = parse_reply(bytes).unwrap().unwrap();
        assert_eq!(used, bytes.len());
        assert_eq!(r.status, 250);
        assert_eq!(r.lines.len(), 9);
        assert!(parse_reply(b"25\r\n").is_err());
        assert!(parse_reply(b"abc def\r\n").is_err());
    }

    #[test]
    fn the_policy_is_asked_with_tors_cookie_and_summarised_as_tor_would() {
        let dir = tempfile::tempdir().unwrap();
        let cookie = dir.path().join("control_auth_cookie");
        std::fs::write(&cookie, [0xabu8; COOKIE_LEN]).unwrap();
        let script = format!(
            "250-PROTOCOLINFO 1\r\n250-AUTH METHODS=COOKIE,SAFECOOKIE COOKIEFILE=\"{}\"\r\n250-VERSION Tor=\"0.4.9.11\"\r\n250 OK\r\n250 OK\r\n{FULL}",
            cookie.display()
        );
        let mut conn = Scripted {
            answers: Cursor::new(script.into_bytes()),
            sent: Vec::new(),
        };
        let (rules, version) = exit_policy_full(&mut conn).unwrap();
        assert_eq!(version, "0.4.9.11");
        assert_eq!(rules.first().map(String::as_str), Some("reject6 *:*"));
        assert_eq!(rules.last().map(String::as_str), Some("reject *:*"));
        let sent = String::from_utf8(conn.sent).unwrap();
        assert!(
            sent.contains(&format!("AUTHENTICATE {}\r\n", "AB".repeat(COOKIE_LEN))),
            "{sent}"
        );
        assert!(sent.contains("GETINFO exit-policy/full\r\n"));
        // IPv6 and single-network rules do not reject a port for everyone.
        assert_eq!(
            summarise(&rules).unwrap().to_string(),
            "accept 80,443,18080-18081"
        );
        // A refusal is named.
        let mut refused = Scripted {
            answers: Cursor::new(b"250-PROTOCOLINFO 1\r\n250-AUTH METHODS=NULL\r\n250 OK\r\n515 Authentication failed\r\n".to_vec()),
            sent: Vec::new(),
        };
        let e = exit_policy_full(&mut refused).unwrap_err().to_string();
        assert!(
            e.contains("AUTHENTICATE") && e.contains("Authentication failed"),
            "{e}"
        );
        let mut password = Scripted {
            answers: Cursor::new(
                b"250-PROTOCOLINFO 1\r\n250-AUTH METHODS=HASHEDPASSWORD\r\n250 OK\r\n".to_vec(),
            ),
            sent: Vec::new(),
        };
        assert!(
            exit_policy_full(&mut password)
                .unwrap_err()
                .to_string()
                .contains("CookieAuthentication")
        );
    }
}
