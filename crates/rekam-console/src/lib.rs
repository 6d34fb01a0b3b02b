//! rekam's browser console, the Rust side: which file of the built bundle a request path
//! names, with its media type, for rekamd to serve on its TCP listener.
//!
//! The console itself is TypeScript in `web/` (plain DOM, no framework), calling rekamd
//! over gRPC-Web on the page's own origin with code generated from `proto/`
//! (`@bufbuild/protoc-gen-es`, `@connectrpc/connect-web`). `npm run build` (run by
//! `tests/deps.sh --build`) generates that code, type-checks and bundles it with esbuild
//! into `dist/` (`index.html`, `console.js`, `console.css`). Nothing is fetched at run
//! time: the page loads only what `dist/` holds.
//!
//! This crate knows nothing of HTTP servers: [`Console::lookup`] maps a request path to an
//! [`Asset`] or says why there is none ([`Miss`]); rekamd's edge turns that into a
//! response with [`SECURITY_HEADERS`]. Paths are checked before the file system is
//! touched: only `/` and plain names (`[A-Za-z0-9._-]`, no leading dot, at most
//! [`MAX_DEPTH`] segments) with a known extension are looked up, and a file whose real
//! path leaves the directory (a symbolic link out) is not served, so no request reaches a
//! file outside the bundle.

use std::path::{Path, PathBuf};

/// Where the Debian package installs the bundle.
pub const PACKAGED_DIR: &str = "/usr/share/rekam/console";

/// The bundle built in this source tree (`crates/rekam-console/dist`), for `cargo run -p
/// rekamd` after `tests/deps.sh --build`.
pub const SOURCE_TREE_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/dist");

/// The most path segments a request may name.
pub const MAX_DEPTH: usize = 4;

/// The longest request path looked up, in bytes.
pub const MAX_PATH_LEN: usize = 256;

/// The headers every console response carries: the page may load scripts, styles and
/// images only from its own origin (and images from `blob:`/`data:` URLs it makes), call
/// only its own origin, and be framed by nobody.
pub const SECURITY_HEADERS: [(&str, &str); 4] = [
    (
        "content-security-policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; \
         connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    ),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("cache-control", "no-cache"),
];

/// The media types served, by extension; other files are not served.
const MEDIA_TYPES: [(&str, &str); 9] = [
    ("html", "text/html; charset=utf-8"),
    ("js", "text/javascript; charset=utf-8"),
    ("css", "text/css; charset=utf-8"),
    ("map", "application/json; charset=utf-8"),
    ("json", "application/json; charset=utf-8"),
    ("svg", "image/svg+xml"),
    ("png", "image/png"),
    ("ico", "image/x-icon"),
    ("txt", "text/plain; charset=utf-8"),
];

/// The page served at `/` when the bundle has not been built.
pub const NOT_BUILT_PAGE: &str = "<!doctype html>
<html lang=\"en\"><head><meta charset=\"utf-8\"><title>rekam console: not built</title></head>
<body>
<h1>The rekam console is not built</h1>
<p>rekamd serves the browser console from a directory that holds no <code>index.html</code>.
Build it in the source tree (Node.js and npm from Debian are enough; nothing is fetched when
the page runs):</p>
<pre>tests/deps.sh --build          # or: cd crates/rekam-console &amp;&amp; npm ci &amp;&amp; npm run build</pre>
<p>then reload this page. A packaged rekamd serves <code>/usr/share/rekam/console</code>;
<code>[console] dir</code> in rekamd's configuration names another directory.</p>
</body></html>
";

/// Why a request path gets no file.
#[derive(Debug, thiserror::Error)]
pub enum Miss {
    /// Not a path the console serves (unknown, refused or outside the bundle).
    #[error("not found")]
    NotFound,
    /// `/` was asked but the bundle is not built: serve [`NOT_BUILT_PAGE`].
    #[error("the console is not built ({0} holds no index.html)")]
    NotBuilt(PathBuf),
    /// The file exists but cannot be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// One file of the bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asset {
    /// Its media type (`content-type`).
    pub content_type: &'static str,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// The console's files: the first of its candidate directories that holds a built bundle
/// (chosen again at every request, so a bundle built while rekamd runs is served at the
/// next reload).
#[derive(Debug, Clone)]
pub struct Console {
    dirs: Vec<PathBuf>,
}

impl Console {
    /// The bundle in `dir` (`[console] dir`).
    pub fn new(dir: impl Into<PathBuf>) -> Console {
        Console::with_dirs(vec![dir.into()])
    }

    /// The first of `dirs` that holds `index.html`; when none does, the first one (which
    /// then answers `/` with [`Miss::NotBuilt`]).
    pub fn with_dirs(dirs: Vec<PathBuf>) -> Console {
        Console { dirs }
    }

    /// The bundle rekamd serves when `[console] dir` is not set: the packaged one
    /// ([`PACKAGED_DIR`]) when it is installed, else the one built in this source tree
    /// ([`SOURCE_TREE_DIR`], for `cargo run`).
    pub fn standard() -> Console {
        Console::with_dirs(vec![PACKAGED_DIR.into(), SOURCE_TREE_DIR.into()])
    }

    /// The directory served now.
    pub fn dir(&self) -> PathBuf {
        self.dirs
            .iter()
            .find(|d| d.join("index.html").is_file())
            .or(self.dirs.first())
            .cloned()
            .unwrap_or_else(|| PathBuf::from(PACKAGED_DIR))
    }

    /// Whether a bundle is built (a directory holds `index.html`).
    pub fn is_built(&self) -> bool {
        self.dir().join("index.html").is_file()
    }

    /// The file a request path (the URI's path, without query) names: `/` is
    /// `index.html`.
    pub async fn lookup(&self, path: &str) -> Result<Asset, Miss> {
        let Some(relative) = relative_path(path) else {
            return Err(Miss::NotFound);
        };
        let Some(content_type) = media_type(&relative) else {
            return Err(Miss::NotFound);
        };
        let dir = self.dir();
        let file = dir.join(&relative);
        // The real paths: a symbolic link may not lead out of the bundle.
        let (real_dir, real_file) = match (
            tokio::fs::canonicalize(&dir).await,
            tokio::fs::canonicalize(&file).await,
        ) {
            (Ok(d), Ok(f)) => (d, f),
            _ if relative == Path::new("index.html") => return Err(Miss::NotBuilt(dir)),
            _ => return Err(Miss::NotFound),
        };
        if !real_file.starts_with(&real_dir) {
            return Err(Miss::NotFound);
        }
        match tokio::fs::metadata(&real_file).await {
            Ok(m) if m.is_file() => {}
            _ => return Err(Miss::NotFound),
        }
        let bytes = tokio::fs::read(&real_file)
            .await
            .map_err(|source| Miss::Io { path: file, source })?;
        Ok(Asset {
            content_type,
            bytes,
        })
    }
}

/// The file a request path names, relative to the bundle, or `None` when the path is not
/// one the console serves: anything but `/` and `/`-separated plain names
/// (`[A-Za-z0-9._-]`, not starting with a dot: no `..`, no hidden files, no
/// percent-encoding, no backslashes) of at most [`MAX_DEPTH`] segments.
pub fn relative_path(path: &str) -> Option<PathBuf> {
    if path.len() > MAX_PATH_LEN {
        return None;
    }
    let rest = path.strip_prefix('/')?;
    if rest.is_empty() {
        return Some(PathBuf::from("index.html"));
    }
    let mut out = PathBuf::new();
    for (i, segment) in rest.split('/').enumerate() {
        let plain = !segment.is_empty()
            && !segment.starts_with('.')
            && segment
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        if !plain || i >= MAX_DEPTH {
            return None;
        }
        out.push(segment);
    }
    Some(out)
}

/// The media type of a file served, by its extension; `None`: not served.
pub fn media_type(file: &Path) -> Option<&'static str> {
    let ext = file.extension()?.to_str()?;
    MEDIA_TYPES
        .iter()
        .find(|(e, _)| e.eq_ignore_ascii_case(ext))
        .map(|(_, t)| *t)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn only_plain_paths_are_looked_up() {
        assert_eq!(relative_path("/"), Some(PathBuf::from("index.html")));
        assert_eq!(relative_path("/console.js"), Some("console.js".into()));
        assert_eq!(
            relative_path("/img/a-b_c.png"),
            Some("img/a-b_c.png".into())
        );
        for bad in [
            "",
            "console.js",
            "/../etc/passwd",
            "/a/../../b.js",
            "/..",
            "/.env",
            "/a//b.js",
            "/a/",
            "/%2e%2e/x.js",
            "/a\\..\\b.js",
            "/a/b/c/d/e.js",
            "/x.js\0",
        ] {
            assert_eq!(relative_path(bad), None, "{bad:?}");
        }
        assert_eq!(relative_path(&format!("/{}.js", "a".repeat(300))), None);
    }

    #[test]
    fn media_types_by_extension() {
        assert_eq!(
            media_type(Path::new("index.html")),
            Some("text/html; charset=utf-8")
        );
        assert_eq!(
            media_type(Path::new("console.JS")),
            Some("text/javascript; charset=utf-8")
        );
        assert_eq!(media_type(Path::new("key.pem")), None);
        assert_eq!(media_type(Path::new("noext")), None);
    }

    #[tokio::test]
    async fn the_first_built_candidate_is_served_and_chosen_at_each_request() {
        let root = tempfile::tempdir().unwrap();
        let (a, b) = (root.path().join("a"), root.path().join("b"));
        std::fs::create_dir(&a).unwrap();
        std::fs::create_dir(&b).unwrap();
        let console = Console::with_dirs(vec![a.clone(), b.clone()]);
        assert_eq!(console.dir(), a);
        assert!(matches!(console.lookup("/").await, Err(Miss::NotBuilt(d)) if d == a));
        std::fs::write(b.join("index.html"), "b").unwrap();
        assert_eq!(console.lookup("/").await.unwrap().bytes, b"b");
        std::fs::write(a.join("index.html"), "a").unwrap();
        assert_eq!(console.lookup("/").await.unwrap().bytes, b"a");
        assert!(
            Console::standard()
                .dirs
                .contains(&PathBuf::from(PACKAGED_DIR))
        );
    }

    #[tokio::test]
    async fn lookup_serves_the_bundle_and_nothing_else() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("dist");
        std::fs::create_dir(&dir).unwrap();
        let console = Console::new(&dir);
        assert!(!console.is_built());
        assert!(matches!(console.lookup("/").await, Err(Miss::NotBuilt(_))));
        assert!(matches!(
            console.lookup("/console.js").await,
            Err(Miss::NotFound)
        ));

        std::fs::write(dir.join("index.html"), "<p>hi</p>").unwrap();
        std::fs::write(dir.join("console.js"), "1").unwrap();
        std::fs::write(dir.join("secret.pem"), "k").unwrap();
        std::fs::write(root.path().join("outside.js"), "o").unwrap();
        std::os::unix::fs::symlink(root.path().join("outside.js"), dir.join("link.js")).unwrap();
        std::fs::create_dir(dir.join("sub.js")).unwrap();
        assert!(console.is_built());
        let page = console.lookup("/").await.unwrap();
        assert_eq!(page.bytes, b"<p>hi</p>");
        assert_eq!(page.content_type, "text/html; charset=utf-8");
        assert_eq!(console.lookup("/console.js").await.unwrap().bytes, b"1");
        for miss in [
            "/secret.pem",
            "/link.js",
            "/sub.js",
            "/missing.js",
            "/../outside.js",
        ] {
            assert!(
                matches!(console.lookup(miss).await, Err(Miss::NotFound)),
                "{miss}"
            );
        }
    }
}
