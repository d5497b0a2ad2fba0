//! A private OpenLDAP slapd for tests: its own `slapd.conf` and database in a temp dir, on a
//! free loopback port, killed when dropped. Never the system slapd.
//!
//! Shared by `seatkeeper-directory`'s tests and the CLI's e2e tests (included with `#[path]`).
//! When slapd or ldap-utils are missing (`bash scripts/install-slapd.sh` installs them),
//! [`Slapd::start`] returns `None` and the test skips with a notice — except under `CI=true`,
//! where it fails.
#![allow(dead_code, clippy::expect_used, clippy::panic)]

use std::fmt::Write as _;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const SUFFIX: &str = "dc=example,dc=com";
pub const ROOT_DN: &str = "cn=admin,dc=example,dc=com";
pub const ROOT_PW: &str = "admin-secret";
/// A non-admin account: the server's default `sizelimit 500` applies to it.
pub const READER_DN: &str = "cn=reader,dc=example,dc=com";
pub const READER_PW: &str = "reader-secret";
/// A non-admin account with the default limits only: even paged searches stop at 500.
pub const CAPPED_DN: &str = "cn=capped,dc=example,dc=com";
pub const PEOPLE: &str = "ou=people,dc=example,dc=com";
pub const GROUPS: &str = "ou=groups,dc=example,dc=com";

pub struct Slapd {
    child: Child,
    dir: tempfile::TempDir,
    pub port: u16,
    /// `ldap://127.0.0.1:PORT`
    pub url: String,
    /// With [`Slapd::start_with_tls`]: `ldaps://127.0.0.1:PORT2` (StartTLS works on `url`).
    pub ldaps_url: Option<String>,
    /// With [`Slapd::start_with_tls`]: the PEM of the CA that signed the server's certificate
    /// (for `127.0.0.1` and `localhost`).
    pub ca_file: Option<PathBuf>,
}

fn find(name: &str, fallbacks: &[&str]) -> Option<PathBuf> {
    let in_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    });
    in_path.or_else(|| fallbacks.iter().map(PathBuf::from).find(|p| p.is_file()))
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local addr").port()
}

impl Slapd {
    /// Starts slapd with the base entries (suffix, `ou=people`, `ou=groups`, the reader), or
    /// `None` (skip) when slapd is not installed outside CI.
    pub fn start() -> Option<Slapd> {
        Slapd::launch(false)
    }

    /// As [`Slapd::start`], with a test CA's certificate: StartTLS on `url`, and `ldaps_url`.
    pub fn start_with_tls() -> Option<Slapd> {
        Slapd::launch(true)
    }

    fn launch(tls: bool) -> Option<Slapd> {
        let slapd = find("slapd", &["/usr/sbin/slapd"]);
        let ldapadd = find("ldapadd", &["/usr/bin/ldapadd"]);
        let (Some(slapd), Some(_)) = (slapd, ldapadd) else {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!(
                    "slapd or ldapadd is missing and CI=true: run `bash scripts/install-slapd.sh` \
                     (CI runs the directory tests against a real slapd)"
                );
            }
            eprintln!(
                "NOTICE: slapd or ldapadd not installed; skipping this LDAP test \
                 (bash scripts/install-slapd.sh installs them)"
            );
            return None;
        };
        let mut dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir(dir.path().join("db")).expect("db dir");
        let conf = dir.path().join("slapd.conf");
        let mut text = String::new();
        if tls {
            make_certificates(dir.path());
            let d = dir.path().display();
            text.push_str(&format!(
                "TLSCACertificateFile {d}/ca.pem\nTLSCertificateFile {d}/server.pem\n\
                 TLSCertificateKeyFile {d}/server.key\n"
            ));
        }
        text.push_str(&slapd_conf(dir.path()));
        std::fs::write(&conf, text).expect("write slapd.conf");
        // A port taken between the probe and slapd's bind: try a few.
        for _ in 0..5 {
            let port = free_port();
            let url = format!("ldap://127.0.0.1:{port}");
            let ldaps_url = tls.then(|| format!("ldaps://127.0.0.1:{}", free_port()));
            let listen = match &ldaps_url {
                Some(ldaps) => format!("{url}/ {ldaps}/"),
                None => format!("{url}/"),
            };
            let log = std::fs::File::create(dir.path().join("slapd.log")).expect("log file");
            let child = Command::new(&slapd)
                .arg("-f")
                .arg(&conf)
                .arg("-h")
                .arg(listen)
                .arg("-d")
                .arg("0")
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log"))
                .stderr(log)
                .spawn()
                .expect("spawn slapd");
            let ca_file = tls.then(|| dir.path().join("ca.pem"));
            let mut server = Slapd {
                child,
                dir,
                port,
                url,
                ldaps_url,
                ca_file,
            };
            if server.wait_ready() {
                server.add_ldif(&base_ldif());
                return Some(server);
            }
            let _ = server.child.kill();
            let _ = server.child.wait();
            let log =
                std::fs::read_to_string(server.dir.path().join("slapd.log")).unwrap_or_default();
            eprintln!("slapd on port {port} did not come up:\n{log}");
            dir = server.into_dir();
        }
        panic!("slapd did not start (see the logs above)");
    }

    fn into_dir(mut self) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("temp dir");
        std::mem::replace(&mut self.dir, dir)
    }

    /// Until slapd answers a root DSE search (or exits, or 10 s pass).
    fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                let ok = Command::new("ldapsearch")
                    .args(["-x", "-H", &self.url, "-b", "", "-s", "base"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success());
                if ok {
                    return true;
                }
            }
            // Waiting for a real process to come up: no clock to move here.
            #[allow(clippy::disallowed_methods)]
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// Adds the entries of `ldif` as the root DN (ldapadd); panics with its output on failure.
    pub fn add_ldif(&self, ldif: &str) {
        let file = self.dir.path().join("add.ldif");
        std::fs::write(&file, ldif).expect("write ldif");
        let out = Command::new("ldapadd")
            .args(["-x", "-H", &self.url, "-D", ROOT_DN, "-w", ROOT_PW, "-f"])
            .arg(&file)
            .output()
            .expect("run ldapadd");
        assert!(
            out.status.success(),
            "ldapadd failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A test CA and a server certificate it signed, for 127.0.0.1 and localhost (openssl).
fn make_certificates(dir: &Path) {
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .current_dir(dir)
            .args(args)
            .output()
            .expect("run openssl (needed for the TLS tests)");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=Seatkeeper test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
         keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )
    .expect("write server.ext");
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "server.ext",
    ]);
}

fn slapd_conf(dir: &Path) -> String {
    let dir = dir.display();
    format!(
        "include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof
pidfile {dir}/slapd.pid
argsfile {dir}/slapd.args
# The default, spelled out: a search without paging stops at 500 entries for anyone but
# the root DN, as on a real directory.
sizelimit 500
database mdb
maxsize 1073741824
suffix \"{SUFFIX}\"
rootdn \"{ROOT_DN}\"
rootpw {ROOT_PW}
directory {dir}/db
dbnosync
# The sync account (the reader): 500 entries per search without paging, as the default, but
# no cap on the total of a paged search. Without this line OpenLDAP caps a paged search at
# the hard limit too (the `capped` account shows that).
limits dn.exact=\"{READER_DN}\" size.soft=500 size.hard=500 size.prtotal=unlimited
overlay memberof
"
    )
}

fn base_ldif() -> String {
    format!(
        "dn: {SUFFIX}
objectClass: top
objectClass: dcObject
objectClass: organization
o: Example
dc: example

dn: {PEOPLE}
objectClass: organizationalUnit
ou: people

dn: {GROUPS}
objectClass: organizationalUnit
ou: groups

dn: {READER_DN}
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: reader
userPassword: {READER_PW}

dn: {CAPPED_DN}
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: capped
userPassword: {READER_PW}

"
    )
}

/// The organisational units users are spread over, under `ou=people` (outermost first).
pub const UNITS: [&str; 4] = ["ou=sales", "ou=support", "ou=eng", "ou=platform,ou=eng"];

/// `count` users `user0000…` spread over [`UNITS`] (round robin), and three groups:
/// `cn=engineers` (the users in `ou=eng` and below), `cn=sales` (those in `ou=sales`) and
/// `cn=staff`, whose members are the two other groups (nesting) and `user0000`.
pub fn people_ldif(count: usize) -> String {
    let mut ldif = String::new();
    for unit in UNITS {
        let ou = unit
            .split(',')
            .next()
            .and_then(|rdn| rdn.strip_prefix("ou="))
            .expect("ou");
        let _ = write!(
            ldif,
            "dn: {unit},{PEOPLE}\nobjectClass: organizationalUnit\nou: {ou}\n\n"
        );
    }
    let mut engineers = Vec::new();
    let mut sales = Vec::new();
    for i in 0..count {
        let unit = UNITS[i % UNITS.len()];
        let dn = format!("uid={},{unit},{PEOPLE}", user_login(i));
        let _ = write!(
            ldif,
            "dn: {dn}\nobjectClass: inetOrgPerson\nuid: {login}\ncn: User {i}\nsn: {i}\n\
             givenName: User\nmail: {login}@example.com\n\n",
            login = user_login(i)
        );
        if unit.ends_with("ou=eng") {
            engineers.push(dn);
        } else if unit == "ou=sales" {
            sales.push(dn);
        }
    }
    let group = |ldif: &mut String, cn: &str, members: &[String]| {
        let _ = write!(
            ldif,
            "dn: cn={cn},{GROUPS}\nobjectClass: groupOfNames\ncn: {cn}\n"
        );
        for m in members {
            let _ = writeln!(ldif, "member: {m}");
        }
        ldif.push('\n');
    };
    if engineers.is_empty() {
        engineers.push(READER_DN.to_string());
    }
    if sales.is_empty() {
        sales.push(READER_DN.to_string());
    }
    group(&mut ldif, "engineers", &engineers);
    group(&mut ldif, "sales", &sales);
    let mut staff = vec![
        format!("cn=engineers,{GROUPS}"),
        format!("cn=sales,{GROUPS}"),
    ];
    if count > 0 {
        staff.push(format!("uid={},{},{PEOPLE}", user_login(0), UNITS[0]));
    }
    group(&mut ldif, "staff", &staff);
    ldif
}

pub fn user_login(i: usize) -> String {
    format!("user{i:04}")
}
