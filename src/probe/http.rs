//! The two halves of an `http://` probe that are pure text: the GET request, and the status
//! line of the response. Only the status line is read, so a large or endless body costs
//! nothing.

/// The most a status line may take; a longer first line is not HTTP.
pub(crate) const MAX_STATUS_LINE: usize = 512;

/// An HTTP/1.1 GET for `path` on `host` (an address or name as written in the target, with
/// `:port` unless it is 80). `Connection: close` so the server does not wait for more.
pub(crate) fn request(host: &str, port: u16, path: &str) -> String {
    let authority = if port == 80 {
        host.to_owned()
    } else {
        format!("{host}:{port}")
    };
    format!(
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: uplink-probe\r\n\
         Accept: */*\r\nConnection: close\r\n\r\n"
    )
}

/// What the bytes read so far say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StatusLine {
    /// No line end yet: read more (if there is room).
    Incomplete,
    /// The status code of a well-formed `HTTP/1.x NNN ...` line.
    Status(u16),
    /// The first line is not an HTTP status line.
    Malformed,
}

/// Reads the status code from the start of a response.
pub(crate) fn status_line(bytes: &[u8]) -> StatusLine {
    let Some(end) = bytes.windows(2).position(|w| w == b"\r\n") else {
        return if bytes.len() >= MAX_STATUS_LINE {
            StatusLine::Malformed
        } else {
            StatusLine::Incomplete
        };
    };
    let line = &bytes[..end];
    let code = line
        .strip_prefix(b"HTTP/1.")
        .filter(|rest| rest.len() >= 5 && rest[0].is_ascii_digit() && rest[1] == b' ')
        .map(|rest| &rest[2..5])
        .filter(|code| code.iter().all(u8::is_ascii_digit))
        .filter(|_| line.len() == 12 || line.get(12) == Some(&b' '));
    match code {
        Some(c) => {
            let value = c.iter().fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
            if (100..=599).contains(&value) {
                StatusLine::Status(value)
            } else {
                StatusLine::Malformed
            }
        }
        None => StatusLine::Malformed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_is_byte_exact() {
        assert_eq!(
            request("connectivitycheck.example", 80, "/generate_204"),
            "GET /generate_204 HTTP/1.1\r\nHost: connectivitycheck.example\r\n\
             User-Agent: uplink-probe\r\nAccept: */*\r\nConnection: close\r\n\r\n"
        );
        assert!(request("[2001:db8::1]", 8080, "/").contains("\r\nHost: [2001:db8::1]:8080\r\n"));
    }

    #[test]
    fn status_lines() {
        assert_eq!(
            status_line(b"HTTP/1.1 204 No Content\r\n"),
            StatusLine::Status(204)
        );
        assert_eq!(
            status_line(b"HTTP/1.0 302 Found\r\nLocation: x"),
            StatusLine::Status(302)
        );
        assert_eq!(status_line(b"HTTP/1.1 200\r\n"), StatusLine::Status(200));
        assert_eq!(status_line(b"HTTP/1.1 20"), StatusLine::Incomplete);
        assert_eq!(status_line(b""), StatusLine::Incomplete);
        for bad in [
            &b"HTTP/2 200 OK\r\n"[..],
            b"SSH-2.0-OpenSSH\r\n",
            b"HTTP/1.1 2000 OK\r\n",
            b"HTTP/1.1 099 X\r\n",
            b"HTTP/1.1 20x OK\r\n",
            b"\r\n",
        ] {
            assert_eq!(status_line(bad), StatusLine::Malformed, "{bad:?}");
        }
        assert_eq!(status_line(&[b'a'; MAX_STATUS_LINE]), StatusLine::Malformed);
    }
}
