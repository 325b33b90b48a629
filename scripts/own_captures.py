#!/usr/bin/env python3
"""Records captures of real servers and clients talking, one protocol
scenario per capture, for the DPI's own corpus (corpus/own/): labels are
judged on what real implementations send, not on the rules' own samples.

Two network namespaces joined by a veth pair (offloads off, so the capture
holds the segments as sent); each scenario starts a real server in one (a
Debian package's daemon), records its side with tcpdump, runs a real client
from the other, and keeps the capture. Needs root and the Debian packages
listed in PACKAGES. Reference labels come from NFStream 6.6.0:

    scripts/own_captures.py corpus/own/pcap
    python3 ../shared/tools/nfstream_ref.py corpus/own/pcap corpus/own/results

Usage: scripts/own_captures.py OUT_DIR [--only NAME ...]
"""
import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

PACKAGES = (
    "swaks python3-aiosmtpd python3-pyftpdlib dovecot-imapd dovecot-pop3d ngircd "
    "dante-server mosquitto mosquitto-clients redis-server memcached libmemcached-tools "
    "snmpd snmp rsync tftpd-hpa tftp-hpa openvpn dnsutils unbound netcat-openbsd "
    "openssh-server openssh-client curl tcpdump ethtool openssl git tinyproxy dnsmasq-base "
    "isc-dhcp-client chrony socat whois bsdutils postgresql slapd ldap-utils samba smbclient "
    "coturn krb5-kdc krb5-user knot-dnsutils mariadb-server mariadb-client inetutils-inetd "
    "inetutils-telnetd inetutils-telnet sip-tester nghttp2-client nghttp2-server "
    "python3-libtorrent gnutls-bin freeradius freeradius-utils cups cups-ipp-utils yaz "
    "libcoap3-bin python3-pymodbus python3-zmq python3-websockets collectd softflowd "
    "nginx libnginx-mod-rtmp ffmpeg bird2 tinc linuxptp snmptrapd rabbitmq-server amqp-tools "
    "prosody python3-slixmpp avahi-daemon squid iperf3 python3-grpcio iputils-ping"
)
CNS, SNS = "efown-c", "efown-s"
C, S = "10.77.0.1", "10.77.0.2"
PY = "/usr/bin/python3"  # Debian's, with the packaged server modules


def sh(cmd, **kw):
    return subprocess.run(cmd, shell=True, check=True, **kw)


def netns_up():
    netns_down()
    for cmd in [
        f"ip netns add {CNS}", f"ip netns add {SNS}",
        f"ip link add efown0 netns {CNS} type veth peer name efown1 netns {SNS}",
        f"ip -n {CNS} addr add {C}/24 dev efown0", f"ip -n {SNS} addr add {S}/24 dev efown1",
        f"ip -n {CNS} link set efown0 up", f"ip -n {SNS} link set efown1 up",
        f"ip -n {CNS} link set lo up", f"ip -n {SNS} link set lo up",
    ]:
        sh(cmd)
    for ns, dev in [(CNS, "efown0"), (SNS, "efown1")]:
        sh(f"ip netns exec {ns} ethtool -K {dev} tso off gso off gro off tx off rx off",
           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def netns_down():
    for ns in (CNS, SNS):
        subprocess.run(f"ip netns del {ns}", shell=True, stderr=subprocess.DEVNULL)


class Proc:
    """A process in a namespace, in its own process group."""

    def __init__(self, ns, cmd, log):
        self.p = subprocess.Popen(["ip", "netns", "exec", ns, "sh", "-c", cmd],
                                  stdout=log, stderr=subprocess.STDOUT,
                                  start_new_session=True)

    def stop(self):
        if self.p.poll() is None:
            os.killpg(self.p.pid, signal.SIGTERM)
            try:
                self.p.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.p.pid, signal.SIGKILL)
                self.p.wait()


def wait_port(port, udp=False, timeout=40.0):
    flag = "-u" if udp else "-t"
    t = time.time()
    while time.time() - t < timeout:
        out = subprocess.run(["ip", "netns", "exec", SNS, "ss", "-lnH", flag],
                             capture_output=True, text=True).stdout
        if any(f":{port} " in line for line in out.splitlines()):
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


def files(w):
    """Configurations, content, keys and certificates the servers use."""
    os.makedirs(f"{w}/root/pub", exist_ok=True)
    with open(f"{w}/root/hello.txt", "w") as f:
        f.write("hello from the own corpus\n" * 40)
    with open(f"{w}/root/pub/readme.txt", "w") as f:
        f.write("readme\n")
    sh(f"openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=own.example "
       f"-keyout {w}/key.pem -out {w}/cert.pem", stdout=subprocess.DEVNULL,
       stderr=subprocess.DEVNULL)
    os.makedirs(f"{w}/mail", exist_ok=True)
    shutil.chown(f"{w}/mail", "nobody", "nogroup")
    conf = {
        "dovecot.conf": f"""protocols = imap pop3
listen = {S}
base_dir = {w}/dovecot-run
ssl = yes
ssl_cert = <{w}/cert.pem
ssl_key = <{w}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {w}/passwd
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={w}/mail/%u
}}
mail_location = maildir:~/Maildir
log_path = {w}/dovecot.log
""",
        "passwd": "alice:{PLAIN}secret\n",
        "tinyproxy.conf": f"Port 8888\nListen {S}\nAllow {C}\nConnectPort 443\nPidFile \"{w}/tinyproxy.pid\"\n",
        "chrony.conf": f"allow all\nlocal stratum 8\nbindaddress {S}\ncmdport 0\npidfile {w}/chronyd.pid\n"
                       f"driftfile {w}/chrony.drift\n",
        "ngircd.conf": f"""[Global]
Name = irc.own.example
Info = own corpus
Listen = {S}
Ports = 6667
PidFile = {w}/ngircd.pid
[Options]
PAM = no
Ident = no
DNS = no
[Limits]
MaxConnectionsIP = 0
""",
        "danted.conf": f"""logoutput: stderr
internal: {S} port = 1080
external: {S}
socksmethod: none
clientmethod: none
user.privileged: root
user.unprivileged: nobody
client pass {{ from: 0.0.0.0/0 to: 0.0.0.0/0 }}
socks pass {{ from: 0.0.0.0/0 to: 0.0.0.0/0 }}
""",
        "mosquitto.conf": f"listener 1883 {S}\nallow_anonymous true\npersistence false\n",
        "snmpd.conf": f"agentAddress udp:{S}:161\nrocommunity public default\n",
        "rsyncd.conf": f"pid file = {w}/rsyncd.pid\nuse chroot = no\n[data]\npath = {w}/root\nread only = yes\n",
        "unbound.conf": f"""server:
  interface: {S}
  port: 53
  do-daemonize: no
  chroot: ""
  username: ""
  pidfile: ""
  use-syslog: no
  access-control: 0.0.0.0/0 allow
  local-zone: "own.example." static
  local-data: "www.own.example. A {S}"
  local-data: "own.example. MX 10 mail.own.example."
  local-data: "own.example. TXT \\"own corpus\\""
""",
        "smb.conf": f"""[global]
interfaces = {S}
bind interfaces only = yes
smb ports = 445
server role = standalone server
map to guest = bad user
lock directory = {w}/samba
state directory = {w}/samba
cache directory = {w}/samba
pid directory = {w}/samba
private dir = {w}/samba
log file = {w}/samba/log
[pub]
path = {w}/root
guest ok = yes
read only = yes
""",
        "krb5.conf": f"""[libdefaults]
default_realm = OWN.EXAMPLE
udp_preference_limit = 2000
[realms]
OWN.EXAMPLE = {{
  kdc = {S}
}}
""",
        "krb5-tcp.conf": f"""[libdefaults]
default_realm = OWN.EXAMPLE
udp_preference_limit = 1
[realms]
OWN.EXAMPLE = {{
  kdc = {S}
}}
""",
        "kdc.conf": f"""[kdcdefaults]
kdc_listen = {S}:88
kdc_tcp_listen = {S}:88
[realms]
OWN.EXAMPLE = {{
  database_name = {w}/krb/principal
  key_stash_file = {w}/krb/stash
  acl_file = {w}/krb/kadm5.acl
}}
""",
        "inetd.conf": "telnet stream tcp nowait root /usr/sbin/telnetd telnetd\n",
        "unbound-tls.conf": f"""server:
  interface: {S}@853
  tls-service-key: "{w}/key.pem"
  tls-service-pem: "{w}/cert.pem"
  tls-port: 853
  do-daemonize: no
  chroot: ""
  username: ""
  pidfile: ""
  use-syslog: no
  access-control: 0.0.0.0/0 allow
  local-zone: "own.example." static
  local-data: "www.own.example. A {S}"
""",
        "sshd_config": f"""ListenAddress {S}
HostKey {w}/ssh_host_ed25519_key
PermitRootLogin yes
AuthorizedKeysFile {w}/authorized_keys
PidFile {w}/sshd.pid
StrictModes no
UsePAM no
""",
    }
    for name, text in conf.items():
        with open(f"{w}/{name}", "w") as f:
            f.write(text)
    sh(f"ssh-keygen -q -t ed25519 -N '' -f {w}/ssh_host_ed25519_key")
    sh(f"ssh-keygen -q -t ed25519 -N '' -f {w}/client_key")
    shutil.copy(f"{w}/client_key.pub", f"{w}/authorized_keys")
    os.makedirs(f"{w}/dovecot-run", exist_ok=True)
    os.makedirs(f"{w}/samba", exist_ok=True)
    os.makedirs(f"{w}/krb", exist_ok=True)
    # PostgreSQL's cluster, its own key (it wants it private), trust from the lab.
    os.makedirs(f"{w}/pg", exist_ok=True)
    shutil.chown(f"{w}/pg", "postgres", "postgres")
    sh(f"runuser -u postgres -- /usr/lib/postgresql/15/bin/initdb -A trust -D {w}/pg/data",
       stdout=subprocess.DEVNULL)
    for name in ("cert.pem", "key.pem"):
        shutil.copy(f"{w}/{name}", f"{w}/pg/{name}")
        shutil.chown(f"{w}/pg/{name}", "postgres", "postgres")
        os.chmod(f"{w}/pg/{name}", 0o600)
    with open(f"{w}/pg/data/pg_hba.conf", "a") as f:
        f.write("host all all 10.77.0.0/24 trust\nhostssl all all 10.77.0.0/24 trust\n")
    # MariaDB's data directory.
    sh(f"mariadb-install-db --no-defaults --datadir={w}/my --user=mysql --auth-root-authentication-method=normal",
       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # The KDC's database with one principal.
    env = f"KRB5_CONFIG={w}/krb5.conf KRB5_KDC_PROFILE={w}/kdc.conf"
    sh(f"{env} kdb5_util create -s -P master -r OWN.EXAMPLE", stdout=subprocess.DEVNULL)
    sh(f"{env} kadmin.local -q 'addprinc -pw secret alice'", stdout=subprocess.DEVNULL,
       stderr=subprocess.DEVNULL)
    sh(f"git init -q {w}/repo && git -C {w}/repo -c user.email=a@own.example "
       f"-c user.name=own commit -q --allow-empty -m first")
    more_files(w)


def more_files(w):
    """The second set of servers: media, routing, peer to peer, industrial."""
    conf = {
        "nginx-rtmp.conf": f"""load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;
daemon off;
pid {w}/nginx.pid;
error_log stderr;
events {{}}
rtmp {{
  server {{
    listen {S}:1935;
    application live {{
      live on;
    }}
  }}
}}
""",
        "bird-s.conf": f"""router id {S};
protocol device {{}}
protocol static {{ ipv4; route 192.0.2.0/24 blackhole; }}
protocol bgp peer {{
  local {S} as 65002;
  neighbor {C} as 65001;
  ipv4 {{ import all; export all; }};
}}
""",
        "bird-c.conf": f"""router id {C};
protocol device {{}}
protocol static {{ ipv4; route 198.51.100.0/24 blackhole; }}
protocol bgp peer {{
  local {C} as 65001;
  neighbor {S} as 65002;
  ipv4 {{ import all; export all; }};
}}
""",
        "snmptrapd.conf": "disableAuthorization yes\n",
        "cupsd.conf": f"""Listen {S}:631
LogLevel warn
DefaultAuthType None
Browsing Off
<Location />
  Order allow,deny
  Allow all
</Location>
""",
        "cups-files.conf": f"""ServerRoot {w}/cups
RequestRoot {w}/cups/spool
TempDir {w}/cups/tmp
CacheDir {w}/cups/cache
StateDir {w}/cups/state
ErrorLog {w}/cups/error_log
AccessLog {w}/cups/access_log
PageLog {w}/cups/page_log
""",
        "collectd.conf": f"""Interval 1
LoadPlugin load
LoadPlugin memory
LoadPlugin network
<Plugin network>
  Server "{S}" "25826"
</Plugin>
""",
        "rabbitmq.conf": f"listeners.tcp.1 = {S}:5672\nloopback_users = none\n",
        "prosody.cfg.lua": f"""pidfile = "{w}/prosody/prosody.pid"
data_path = "{w}/prosody"
interfaces = {{ "{S}" }}
c2s_ports = {{ 5222 }}
s2s_ports = {{ }}
log = {{ info = "{w}/prosody/prosody.log" }}
authentication = "internal_plain"
c2s_require_encryption = true
modules_enabled = {{ "roster"; "saslauth"; "tls"; "disco"; "ping"; "posix" }}
daemonize = false
ssl = {{ key = "{w}/prosody/key.pem"; certificate = "{w}/prosody/cert.pem" }}
VirtualHost "own.example"
""",
    }
    conf.update({
        "avahi.conf": """[server]
host-name=own-s
use-ipv4=yes
use-ipv6=no
allow-interfaces=efown1
enable-dbus=no
[wide-area]
enable-wide-area=no
[publish]
publish-addresses=yes
""",
        "nmb.conf": f"""[global]
netbios name = OWNSRV
workgroup = OWNLAB
interfaces = {S}/24
bind interfaces only = yes
lock directory = {w}/samba
state directory = {w}/samba
cache directory = {w}/samba
pid directory = {w}/samba
private dir = {w}/samba
log file = {w}/samba/nmb.log
""",
        "squid.conf": f"""http_port {S}:3128
http_access allow all
cache deny all
pid_filename {w}/squid/squid.pid
access_log none
cache_log {w}/squid/cache.log
coredump_dir {w}/squid
""",
        "mosquitto-tls.conf": f"listener 8883 {S}\nallow_anonymous true\npersistence false\n"
                              f"certfile {w}/cert.pem\nkeyfile {w}/key.pem\n",
    })
    for name, text in conf.items():
        with open(f"{w}/{name}", "w") as f:
            f.write(text)
    for d in ("cups/spool", "cups/tmp", "cups/cache", "cups/state", "rabbit", "prosody", "squid"):
        os.makedirs(f"{w}/{d}", exist_ok=True)
    # RADIUS: Debian's configuration with the lab as a client and one user.
    shutil.copytree("/etc/freeradius/3.0", f"{w}/raddb", symlinks=True)
    with open(f"{w}/raddb/clients.conf", "a") as f:
        f.write("client lab {\n  ipaddr = 10.77.0.0/24\n  secret = testing123\n}\n")
    with open(f"{w}/raddb/mods-config/files/authorize", "r+") as f:
        body = f.read()
        f.seek(0)
        f.write('alice Cleartext-Password := "secret"\n' + body)
    sh(f"chown -R freerad:freerad {w}/raddb")
    # XMPP: prosody reads its key as its own user.
    for name in ("cert.pem", "key.pem"):
        shutil.copy(f"{w}/{name}", f"{w}/prosody/{name}")
    sh(f"chown -R rabbitmq:rabbitmq {w}/rabbit")
    sh(f"chown -R proxy:proxy {w}/squid")
    os.chmod(f"{w}/key.pem", 0o644)  # mosquitto reads it as its own user
    sh(f"chown -R prosody:prosody {w}/prosody")
    sh(f"prosodyctl --config {w}/prosody.cfg.lua register alice own.example secret",
       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sh(f"chown -R prosody:prosody {w}/prosody")
    # tinc: two nodes, each with the other's host file.
    for node, addr in (("s", S), ("c", C)):
        d = f"{w}/tinc-{node}"
        os.makedirs(f"{d}/hosts", exist_ok=True)
        with open(f"{d}/tinc.conf", "w") as f:
            f.write(f"Name = {node}\nAddressFamily = ipv4\nDeviceType = dummy\n"
                    + (f"BindToAddress = {S}\n" if node == "s" else "ConnectTo = s\n"))
        with open(f"{d}/hosts/{node}", "w") as f:
            f.write((f"Address = {S}\n" if node == "s" else "") + f"Subnet = 10.9.0.{1 if node == 'c' else 2}/32\n")
        sh(f"tincd -c {d} -K 2048 </dev/null", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    shutil.copy(f"{w}/tinc-s/hosts/s", f"{w}/tinc-c/hosts/s")
    shutil.copy(f"{w}/tinc-c/hosts/c", f"{w}/tinc-s/hosts/c")
    # NetFlow/IPFIX: the exporter reads flows from one of this corpus's captures.
    shutil.copy(os.path.join(os.path.dirname(os.path.abspath(__file__)), "../corpus/own/pcaps/http.pcap"),
                f"{w}/flows-src.pcap")
    # BitTorrent: a torrent of hello.txt, seeded by the server.
    os.makedirs(f"{w}/bt", exist_ok=True)
    shutil.copy(f"{w}/root/hello.txt", f"{w}/bt/hello.txt")
    sh(f"""{PY} - <<'EOF'
import libtorrent as lt
fs = lt.file_storage(); lt.add_files(fs, "{w}/bt/hello.txt")
t = lt.create_torrent(fs, 16384); lt.set_piece_hashes(t, "{w}/bt")
open("{w}/bt/hello.torrent", "wb").write(lt.bencode(t.generate()))
EOF""")


# IRC: a scripted client against the real server (no packaged client runs
# unattended): registration, a channel, a message, quit.
IRC_CLIENT = f"""{PY} - <<'EOF'
import socket, time
s = socket.create_connection(("{S}", 6667))
s.sendall(b"NICK alice\\r\\nUSER alice 0 * :Alice\\r\\n")
time.sleep(0.5); s.recv(65536)
s.sendall(b"JOIN #own\\r\\n"); time.sleep(0.3); s.recv(65536)
s.sendall(b"PRIVMSG #own :hello\\r\\n"); time.sleep(0.2)
s.sendall(b"QUIT :bye\\r\\n"); time.sleep(0.3); s.close()
EOF"""


# Python servers and clients from Debian's packaged libraries.
def py(body):
    return f"{PY} - <<'EOF'\n{body}\nEOF"


MODBUS_SERVER = py(f"""
from pymodbus.server import StartTcpServer
from pymodbus.datastore import ModbusSequentialDataBlock, ModbusSlaveContext, ModbusServerContext
block = ModbusSequentialDataBlock(0, [7] * 100)
ctx = ModbusServerContext(slaves=ModbusSlaveContext(hr=block, ir=block), single=True)
StartTcpServer(context=ctx, address=("{S}", 502))""")
MODBUS_CLIENT = py(f"""
from pymodbus.client import ModbusTcpClient
c = ModbusTcpClient("{S}", port=502); c.connect()
assert not c.read_holding_registers(0, 4).isError()
c.write_register(1, 9); c.read_input_registers(0, 2); c.close()""")
ZMQ_SERVER = py(f"""
import zmq
s = zmq.Context().socket(zmq.REP); s.bind("tcp://{S}:5555")
while True:
    s.send(b"pong " + s.recv())""")
ZMQ_CLIENT = py(f"""
import zmq
s = zmq.Context().socket(zmq.REQ); s.connect("tcp://{S}:5555")
for i in range(3):
    s.send(b"ping"); s.recv()
s.close(linger=0)""")
WS_SERVER = py(f"""
import asyncio, websockets
async def echo(ws, path=None):
    async for m in ws:
        await ws.send(m)
async def main():
    async with websockets.serve(echo, "{S}", 8765):
        await asyncio.Future()
asyncio.run(main())""")
WS_CLIENT = py(f"""
import asyncio, websockets
async def main():
    async with websockets.connect("ws://{S}:8765/chat") as ws:
        for m in ("hello", "again"):
            await ws.send(m); await ws.recv()
asyncio.run(main())""")
XMPP_CLIENT = py(f"""
import asyncio, slixmpp
class C(slixmpp.ClientXMPP):
    def __init__(self):
        super().__init__("alice@own.example", "secret")
        self.add_event_handler("session_start", self.start)
        self.ok = False
    async def start(self, e):
        self.send_presence(); await self.get_roster()
        self.send_message(mto="alice@own.example", mbody="hello", mtype="chat")
        self.ok = True; self.disconnect()
c = C()
c.ssl_context.check_hostname = False
import ssl; c.ssl_context.verify_mode = ssl.CERT_NONE
c.connect(("{S}", 5222))
c.loop.run_until_complete(c.disconnected)
assert c.ok""")


GRPC_SERVER = py(f"""
import grpc, concurrent.futures as cf
echo = grpc.unary_unary_rpc_method_handler(lambda req, ctx: req)
s = grpc.server(cf.ThreadPoolExecutor(2))
s.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("own.Echo", {{"Say": echo}}),))
s.add_insecure_port("{S}:50051"); s.start(); s.wait_for_termination()""")
GRPC_CLIENT = py(f"""
import grpc
ch = grpc.insecure_channel("{S}:50051")
assert ch.unary_unary("/own.Echo/Say")(b"hello", timeout=10) == b"hello"
ch.close()""")


def tunnel(kind, name, inner, outer_local, outer_remote, extra=""):
    """A kernel tunnel device and its inner address."""
    return (f"ip link add {name} type {kind} local {outer_local} remote {outer_remote} {extra} && "
            f"ip addr add {inner} dev {name} && ip link set {name} up")


def tunnel_scenario(kind, extra="", v6=False):
    """(server, port, client) for a tunnel: the client pings across it."""
    name = f"own{kind[:3]}"
    a, b = ("fd00:77::2/64", "fd00:77::1/64") if v6 else ("192.168.77.2/24", "192.168.77.1/24")
    target = a.split("/")[0]
    server = tunnel(kind, name, a, S, C, extra) + " && exec sleep 600"
    client = (tunnel(kind, name, b, C, S, extra) + f" && sleep 1 && ping -c 3 -i 0.3 -W 2 {target}; "
              f"rc=$?; ip link del {name}; ip -n {SNS} link del {name}; exit $rc")
    return server, None, client


def sink(port):
    """A UDP receiver for one-way senders (RTP, exporters)."""
    return f"socat -u UDP-RECV:{port},bind={S} - >/dev/null"


def bt(w, role, utp):
    """A libtorrent session: the seed listens, the peer fetches from it."""
    addr = S if role == "seed" else C
    save = f"{w}/bt" if role == "seed" else f"{w}/bt-get-{'utp' if utp else 'tcp'}"
    tcp, utp_on = ("False", "True") if utp else ("True", "False")
    return py(f"""
import libtorrent as lt, time
s = lt.session({{"listen_interfaces": "{addr}:6881", "enable_dht": False, "enable_lsd": False,
    "enable_upnp": False, "enable_natpmp": False, "enable_outgoing_tcp": {tcp},
    "enable_incoming_tcp": {tcp}, "enable_outgoing_utp": {utp_on}, "enable_incoming_utp": {utp_on},
    "allow_multiple_connections_per_ip": True}})
h = s.add_torrent({{"ti": lt.torrent_info("{w}/bt/hello.torrent"), "save_path": "{save}"}})
if "{role}" == "seed":
    while True:
        time.sleep(1)
h.connect_peer(("{S}", 6881))
t = time.time()
while not h.status().is_seeding and time.time() - t < 30:
    time.sleep(0.2)
assert h.status().is_seeding""")


def scenarios(w):
    """(name, server command, server port (udp?), client command)."""
    smtp = f"swaks --silent 2 --to bob@own.example --from alice@own.example --body hello"
    ftp = f"{PY} -m pyftpdlib -i {S} -d {w}/root"
    dovecot = f"dovecot -F -c {w}/dovecot.conf"
    # Point to point over TLS, the certificate its own CA; the client stops
    # once the tunnel is up (the grep says whether it came up).
    ovpn = (f"--dev tun --ca {w}/cert.pem --cert {w}/cert.pem --key {w}/key.pem "
            f"--verb 3 --ping 1")
    rtsp = f"ffmpeg -loglevel error -rtsp_flags listen -i rtsp://{S}:8554/live -f null -"
    return [
        ("smtp", f"{PY} -m aiosmtpd -n -l {S}:25", (25, False), f"{smtp} --server {S}:25"),
        ("smtp_port2525", f"{PY} -m aiosmtpd -n -l {S}:2525", (2525, False),
         f"{smtp} --server {S}:2525"),
        ("smtp_starttls", f"{PY} -m aiosmtpd -n -l {S}:587 --tlscert {w}/cert.pem "
         f"--tlskey {w}/key.pem", (587, False), f"{smtp} -tls --server {S}:587"),
        ("ftp_passive", f"{ftp} -p 21", (21, False),
         f"curl -sS ftp://{S}/hello.txt -o /dev/null && curl -sS ftp://{S}/pub/ -o /dev/null"),
        ("ftp_active", f"{ftp} -p 21", (21, False),
         f"curl -sS -P {C} ftp://{S}/hello.txt -o /dev/null"),
        ("ftp_port2121", f"{ftp} -p 2121", (2121, False),
         f"curl -sS ftp://{S}:2121/hello.txt -o /dev/null"),
        ("imap", dovecot, (143, False), f"curl -sS imap://alice:secret@{S}/INBOX -X 'EXAMINE INBOX'"),
        ("imap_starttls", dovecot, (143, False),
         f"curl -sS -k --ssl-reqd imap://alice:secret@{S}/INBOX -X 'EXAMINE INBOX'"),
        ("imaps", dovecot, (993, False), f"curl -sS -k imaps://alice:secret@{S}/INBOX -X 'EXAMINE INBOX'"),
        ("pop3", dovecot, (110, False), f"curl -sS pop3://alice:secret@{S}/"),
        ("pop3_starttls", dovecot, (110, False), f"curl -sS -k --ssl-reqd pop3://alice:secret@{S}/"),
        ("irc", f"ngircd -n -f {w}/ngircd.conf", (6667, False), IRC_CLIENT),
        ("socks5", f"danted -f {w}/danted.conf", (1080, False),
         f"curl -sS --socks5 {S}:1080 http://{S}:8080/hello.txt -o /dev/null"),
        ("socks4", f"danted -f {w}/danted.conf", (1080, False),
         f"curl -sS --socks4 {S}:1080 http://{S}:8080/hello.txt -o /dev/null"),
        ("mqtt", f"mosquitto -c {w}/mosquitto.conf", (1883, False),
         f"mosquitto_pub -h {S} -t own/t -r -m hello && mosquitto_sub -h {S} -t own/t -C 1"),
        ("redis", f"redis-server --bind {S} --save '' --protected-mode no", (6379, False),
         f"redis-cli -h {S} set k v && redis-cli -h {S} get k && redis-cli -h {S} ping"),
        ("memcached", f"memcached -u nobody -l {S} -p 11211", (11211, False),
         f"memccp --servers={S} {w}/root/hello.txt && memccat --servers={S} hello.txt"),
        ("snmp", f"snmpd -f -Lo -C -c {w}/snmpd.conf", (161, True),
         f"snmpget -m '' -v2c -c public {S} 1.3.6.1.2.1.1.1.0 && snmpwalk -m '' -v1 -c public {S} 1.3.6.1.2.1.1"),
        ("rsync", f"rsync --daemon --no-detach --address={S} --config={w}/rsyncd.conf", (873, False),
         f"rsync -r rsync://{S}/data/ {w}/rsync-copy/"),
        ("tftp", f"in.tftpd -L -s {w}/root -a {S}:69", (69, True),
         f"tftp {S} -c get hello.txt {w}/tftp-copy.txt"),
        ("dns", f"unbound -d -c {w}/unbound.conf", (53, True),
         f"dig +short @{S} www.own.example A && dig +short @{S} own.example MX "
         f"&& dig +tcp +short @{S} own.example TXT"),
        ("ssh", f"/usr/sbin/sshd -D -e -f {w}/sshd_config", (22, False),
         f"ssh -i {w}/client_key -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
         f"root@{S} true"),
        ("http", f"{PY} -m http.server 80 --bind {S} --directory {w}/root", (80, False),
         f"curl -sS http://{S}/hello.txt -o /dev/null -A 'curl/8.0 own'"),
        ("https_sni", f"openssl s_server -quiet -accept {S}:443 -www -cert {w}/cert.pem "
         f"-key {w}/key.pem", (443, False),
         f"curl -sS -k --resolve www.own.example:443:{S} https://www.own.example/ -o /dev/null"),
        ("smtps", f"{PY} -m aiosmtpd -n -l {S}:465 --smtpscert {w}/cert.pem "
         f"--smtpskey {w}/key.pem", (465, False), f"{smtp} --tlsc --server {S}:465"),
        ("pop3s", dovecot, (995, False), f"curl -sS -k pop3s://alice:secret@{S}/"),
        ("http_connect", f"openssl s_server -quiet -accept {S}:443 -www -cert {w}/cert.pem "
         f"-key {w}/key.pem & tinyproxy -d -c {w}/tinyproxy.conf", (8888, False),
         f"curl -sS -k -x http://{S}:8888 --connect-to www.own.example:443:{S}:443 "
         f"https://www.own.example/ -o /dev/null"),
        ("dhcp", f"dnsmasq -d --port=0 --interface=efown1 --bind-interfaces "
         f"--dhcp-range=10.77.0.50,10.77.0.60,255.255.255.0 --dhcp-leasefile={w}/dnsmasq.leases",
         (67, True), f"timeout 8 dhclient -d -1 -sf /bin/true -lf {w}/dhclient.leases "
         f"-pf {w}/dhclient.pid efown0; grep -q fixed-address {w}/dhclient.leases"),
        ("ntp", f"chronyd -d -x -f {w}/chrony.conf", (123, True),
         f"timeout 30 chronyd -Q -t 25 'server {S} iburst maxsamples 2'"),
        ("syslog", f"socat -u UDP-RECV:514,bind={S} -", (514, True),
         f"logger -d -n {S} -P 514 'own corpus: a test message'"),
        ("whois", f"socat TCP-LISTEN:43,bind={S},fork,reuseaddr "
         f"SYSTEM:'read q; echo \"Domain Name: OWN.EXAMPLE\"'", (43, False),
         f"whois -h {S} own.example"),
        ("openvpn_udp", f"openvpn {ovpn} --tls-server --dh none --proto udp --local {S} "
         f"--lport 1194 --ifconfig 10.8.0.1 10.8.0.2", (1194, True),
         f"timeout 15 openvpn {ovpn} --tls-client --proto udp --remote {S} 1194 --nobind "
         f"--ifconfig 10.8.0.2 10.8.0.1 --log {w}/ovpn-udp.log; "
         f"grep -q 'Initialization Sequence Completed' {w}/ovpn-udp.log"),
        ("openvpn_tcp", f"openvpn {ovpn} --tls-server --dh none --proto tcp-server "
         f"--local {S} --lport 1194 --ifconfig 10.8.0.1 10.8.0.2", (1194, False),
         f"timeout 15 openvpn {ovpn} --tls-client --proto tcp-client --remote {S} 1194 "
         f"--ifconfig 10.8.0.2 10.8.0.1 --log {w}/ovpn-tcp.log; "
         f"grep -q 'Initialization Sequence Completed' {w}/ovpn-tcp.log"),
        ("postgresql", f"runuser -u postgres -- /usr/lib/postgresql/15/bin/postgres -D {w}/pg/data "
         f"-h {S} -k {w}/pg -c ssl=on -c ssl_cert_file={w}/pg/cert.pem "
         f"-c ssl_key_file={w}/pg/key.pem", (5432, False),
         f"psql 'host={S} user=postgres sslmode=disable' -c 'select 1'"),
        ("postgresql_tls", f"runuser -u postgres -- /usr/lib/postgresql/15/bin/postgres -D {w}/pg/data "
         f"-h {S} -k {w}/pg -c ssl=on -c ssl_cert_file={w}/pg/cert.pem "
         f"-c ssl_key_file={w}/pg/key.pem", (5432, False),
         f"psql 'host={S} user=postgres sslmode=require' -c 'select 1'"),
        ("mysql", f"mariadbd --no-defaults --datadir={w}/my --bind-address={S} "
         f"--socket={w}/my/my.sock --user=mysql --skip-grant-tables", (3306, False),
         f"mariadb --no-defaults -h {S} -u root -e 'select 1'"),
        ("ldap", f"slapd -d 0 -h ldap://{S}/ -u openldap -g openldap", (389, False),
         f"ldapsearch -x -H ldap://{S} -b '' -s base namingContexts"),
        ("smb", f"smbd -F --no-process-group -s {w}/smb.conf", (445, False),
         f"smbclient -N -s /dev/null //{S}/pub -c 'get hello.txt /dev/null'"),
        ("stun", f"turnserver -n --listening-ip={S} --no-tls --no-dtls --lt-cred-mech "
         f"--user=alice:secret --realm=own.example --no-cli", (3478, True),
         f"turnutils_stunclient {S}"),
        ("kerberos_udp", f"KRB5_CONFIG={w}/krb5.conf KRB5_KDC_PROFILE={w}/kdc.conf krb5kdc -n",
         (88, True), f"echo secret | KRB5_CONFIG={w}/krb5.conf KRB5CCNAME={w}/krb/cc1 kinit alice"),
        ("kerberos_tcp", f"KRB5_CONFIG={w}/krb5.conf KRB5_KDC_PROFILE={w}/kdc.conf krb5kdc -n",
         (88, False), f"echo secret | KRB5_CONFIG={w}/krb5-tcp.conf KRB5CCNAME={w}/krb/cc2 kinit alice"),
        ("dns_tls", f"unbound -d -c {w}/unbound-tls.conf", (853, False),
         f"kdig +tls +short @{S} www.own.example A"),
        ("telnet", f"inetutils-inetd -d {w}/inetd.conf", (23, False),
         f"(sleep 2; printf 'alice\\r\\n'; sleep 1) | telnet {S}; true"),
        ("git", f"git daemon --reuseaddr --base-path={w} --export-all --listen={S} {w}/repo",
         (9418, False), f"git clone -q git://{S}/repo {w}/git-copy-$$"),
        ("http2_tls", f"nghttpd -a {S} -d {w}/root 443 {w}/key.pem {w}/cert.pem", (443, False),
         f"nghttp -n https://{S}/hello.txt"),
        ("http2_cleartext", f"nghttpd -a {S} --no-tls -d {w}/root 80", (80, False),
         f"nghttp -n http://{S}/hello.txt && nghttp -nu http://{S}/hello.txt"),
        ("sip_udp", f"sipp -sn uas -i {S} -p 5060 -nostdin", (5060, True),
         f"sipp -sn uac {S}:5060 -i {C} -m 1 -nostdin -timeout 15s"),
        ("sip_tcp", f"sipp -sn uas -t t1 -i {S} -p 5060 -nostdin", (5060, False),
         f"sipp -sn uac -t t1 {S}:5060 -i {C} -m 1 -nostdin -timeout 15s"),
        ("rtp", sink(5004), (5004, True),
         f"ffmpeg -loglevel error -re -f lavfi -i sine=d=3 -c:a pcm_mulaw -ar 8000 -ac 1 "
         f"-f rtp rtp://{S}:5004"),
        ("mpegts_udp", sink(1234), (1234, True),
         f"ffmpeg -loglevel error -re -f lavfi -i testsrc=d=3:s=160x120 -f mpegts "
         f"'udp://{S}:1234?pkt_size=1316'"),
        ("rtmp", f"nginx -c {w}/nginx-rtmp.conf", (1935, False),
         f"ffmpeg -loglevel error -re -f lavfi -i testsrc=d=3:s=160x120 -c:v libx264 -f flv "
         f"rtmp://{S}/live/own"),
        ("rtsp_tcp", rtsp,
         (8554, False), f"ffmpeg -loglevel error -re -f lavfi -i sine=d=3 -c:a pcm_mulaw -f rtsp "
         f"-rtsp_transport tcp rtsp://{S}:8554/live"),
        ("rtsp_udp", rtsp,
         (8554, False), f"ffmpeg -loglevel error -re -f lavfi -i sine=d=3 -c:a pcm_mulaw -f rtsp "
         f"-rtsp_transport udp rtsp://{S}:8554/live"),
        ("radius", f"freeradius -f -d {w}/raddb -l stdout", (1812, True),
         f"radtest alice secret {S} 0 testing123"),
        ("ipp", f"cupsd -f -c {w}/cupsd.conf -s {w}/cups-files.conf", (631, False),
         f"ipptool -t ipp://{S}:631/ get-printers.test; ipptool -t ipp://{S}:631/ "
         f"get-printers.test | grep -q -v FAIL"),
        ("z3950", f"yaz-ztest tcp:{S}:210", (210, False),
         f"printf 'open tcp:{S}:210\\nfind computer\\nshow 1\\nquit\\n' | yaz-client"),
        ("coap", f"coap-server-notls -A {S}", (5683, True),
         f"coap-client-notls -m get coap://{S}/.well-known/core && coap-client-notls -m get coap://{S}/time"),
        ("modbus", MODBUS_SERVER, (502, False), MODBUS_CLIENT),
        ("zeromq", ZMQ_SERVER, (5555, False), ZMQ_CLIENT),
        ("websocket", WS_SERVER, (8765, False), WS_CLIENT),
        ("collectd", sink(25826), (25826, True),
         f"timeout 4 collectd -f -C {w}/collectd.conf; true"),
        ("netflow_v5", sink(2055), (2055, True),
         f"softflowd -d -r {w}/flows-src.pcap -n {S}:2055 -v 5"),
        ("netflow_v9", sink(2055), (2055, True),
         f"softflowd -d -r {w}/flows-src.pcap -n {S}:2055 -v 9"),
        ("ipfix", sink(4739), (4739, True),
         f"softflowd -d -r {w}/flows-src.pcap -n {S}:4739 -v 10"),
        ("bgp", f"bird -f -c {w}/bird-s.conf -s {w}/bird-s.ctl", (179, False),
         f"timeout 8 bird -f -c {w}/bird-c.conf -s {w}/bird-c.ctl; true"),
        ("tinc", f"tincd -c {w}/tinc-s --pidfile={w}/tinc-s.pid -D -d1", (655, False),
         f"timeout 8 tincd -c {w}/tinc-c --pidfile={w}/tinc-c.pid -D -d1; true"),
        ("ptp", f"ptp4l -4 -S -i efown1 -m", (319, True),
         f"timeout 8 ptp4l -4 -S -s -i efown0 -m; true"),
        ("snmp_trap", f"snmptrapd -f -Lo -C -c {w}/snmptrapd.conf {S}:162", (162, True),
         f"snmptrap -v2c -c public {S}:162 '' 1.3.6.1.6.3.1.1.5.1 && "
         f"snmpinform -v2c -c public {S}:162 '' 1.3.6.1.6.3.1.1.5.1"),
        ("amqp", f"HOME={w}/rabbit RABBITMQ_CONFIG_FILE={w}/rabbitmq.conf "
         f"RABBITMQ_MNESIA_BASE={w}/rabbit RABBITMQ_LOG_BASE={w}/rabbit "
         f"RABBITMQ_NODENAME=own@localhost rabbitmq-server", (5672, False),
         f"amqp-declare-queue -u amqp://guest:guest@{S} -q own && "
         f"amqp-publish -u amqp://guest:guest@{S} -r own -b hello && "
         f"amqp-get -u amqp://guest:guest@{S} -q own"),
        ("xmpp", f"runuser -u prosody -- prosody --config {w}/prosody.cfg.lua", (5222, False),
         XMPP_CLIENT),
        ("bittorrent_tcp", bt(w, "seed", False), (6881, False), bt(w, "peer", False)),
        ("bittorrent_utp", bt(w, "seed", True), (6881, True), bt(w, "peer", True)),
        ("tls_gnutls", f"gnutls-serv --http -a -p 443 --x509certfile {w}/cert.pem "
         f"--x509keyfile {w}/key.pem", (443, False),
         f"gnutls-cli --insecure --sni-hostname www.own.example -p 443 {S} </dev/null"),
        ("dtls", f"openssl s_server -quiet -dtls -accept {S}:4433 -cert {w}/cert.pem "
         f"-key {w}/key.pem", (4433, True),
         f"(echo hello; sleep 1) | timeout 5 openssl s_client -quiet -dtls -connect {S}:4433 "
         f"-servername www.own.example; true"),
        ("mdns", f"avahi-daemon --no-drop-root --no-chroot --no-rlimits -f {w}/avahi.conf",
         (5353, True), f"dig +short -p 5353 @{S} own-s.local A | grep -q {S}"),
        ("netbios_ns", f"nmbd -F --no-process-group -s {w}/nmb.conf", (137, True),
         f"nmblookup -U {S} OWNSRV"),
        ("http_proxy_squid", f"squid -N -f {w}/squid.conf", (3128, False),
         f"curl -sS -x http://{S}:3128 http://{S}:8080/hello.txt -o /dev/null"),
        ("syslog_tcp", f"socat -u TCP-LISTEN:514,bind={S},reuseaddr - >/dev/null", (514, False),
         f"logger -T -n {S} -P 514 'own corpus: a message over TCP'"),
        ("mqtt_tls", f"mosquitto -c {w}/mosquitto-tls.conf", (8883, False),
         f"mosquitto_pub -h {S} -p 8883 --insecure --cafile {w}/cert.pem -t own/t -m hello"),
        ("grpc", GRPC_SERVER, (50051, False), GRPC_CLIENT),
        ("iperf3_tcp", f"iperf3 -s -1 -B {S}", (5201, False), f"iperf3 -c {S} -n 200K"),
        ("iperf3_udp", f"iperf3 -s -1 -B {S}", (5201, False), f"iperf3 -u -c {S} -n 100K -b 1M"),
        # GRE, IPIP, SIT and Geneve need kernel modules this kind of
        # machine does not have; VXLAN is built in.
        ("vxlan", *tunnel_scenario("vxlan", "id 42 dstport 4789")),
    ]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--only", nargs="*")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    w = tempfile.mkdtemp(prefix="efown-")
    os.chmod(w, 0o755)
    files(w)
    netns_up()
    failed = []
    try:
        # A web server the SOCKS proxy fetches from.
        web = Proc(SNS, f"{PY} -m http.server 8080 --bind {S} --directory {w}/root",
                   subprocess.DEVNULL)
        wait_port(8080)
        for name, server, where, client in scenarios(w):
            port, udp = where or (None, False)
            if a.only and name not in a.only:
                continue
            log = open(f"{w}/{name}.log", "w")
            srv = Proc(SNS, server, log)
            pcap = os.path.join(a.out, f"{name}.pcap")
            dump = None
            try:
                if port is None:  # a kernel tunnel: nothing listens
                    time.sleep(1.5)
                else:
                    wait_port(port, udp)
                dump = Proc(SNS, f"tcpdump -i efown1 -s 0 -U -w {pcap} not port 8080",
                            log)
                time.sleep(1.0)
                r = subprocess.run(["ip", "netns", "exec", CNS, "sh", "-c", client],
                                   stdout=log, stderr=subprocess.STDOUT, timeout=60)
                time.sleep(1.0)
                if r.returncode != 0:
                    raise RuntimeError(f"client exited {r.returncode}")
                print(f"{name}: ok")
            except Exception as e:  # a scenario's failure leaves the others
                failed.append(name)
                print(f"{name}: FAILED ({e}); log {w}/{name}.log", file=sys.stderr)
            finally:
                if dump:
                    dump.stop()
                srv.stop()
                time.sleep(0.3)
        web.stop()
    finally:
        # RabbitMQ's port mapper daemonises out of its scenario's process
        # group: stop it before its namespace goes.
        subprocess.run(["ip", "netns", "exec", SNS, "epmd", "-kill"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        netns_down()
    if failed:
        print(f"failed: {' '.join(failed)}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
