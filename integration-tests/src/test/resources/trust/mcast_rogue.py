# A rogue host on the provisioning segment against a clonecast multicast session (McastAbuseIT).
# Every loop is bounded in count and time; it talks only to the lab's addresses given on the
# command line.
#   leave SERVER            join by HELLO, read WELCOME, disconnect at once
#   hello SERVER PORT NAME [PROOF]
#                           join a daemon session's control port PORT as NAME (with a node proof of
#                           32 bytes given in hex, or none) and print what the sender answers:
#                           'WELCOME' or 'END <reason>'
#   loiter SERVER SECONDS   join, ask for every chunk, never finish; meanwhile forge ENDED
#                           announcements, STATUS claiming 100 % loss and NAKs for every chunk in
#                           the real receivers' names, and report 100 % loss and NAK everything in
#                           its own name; stops after SECONDS or when the sender drops it
import socket, struct, sys, time

PORT = 9400
mode, server = sys.argv[1], sys.argv[2]
if mode == 'hello':
    PORT = int(sys.argv[3])
group = '239.255.%d.%d' % tuple(int(x) for x in server.split('.')[2:])
bcast = '.'.join(server.split('.')[:3] + ['255'])


def frame(body):
    return struct.pack('>I', len(body)) + body


def recv_exact(t, n):
    b = b''
    while len(b) < n:
        c = t.recv(min(1 << 16, n - len(b)))
        if not c:
            raise EOFError('control connection closed')
        b += c
    return b


def join(name):
    for _ in range(100):  # up to ~50 s for the sender to listen
        try:
            t = socket.create_connection((server, PORT), timeout=5)
            break
        except OSError:
            time.sleep(0.5)
    else:
        sys.exit('no sender at %s:%d' % (server, PORT))
    n = name.encode()
    t.sendall(frame(struct.pack('>BHIH', 1, 1, 0, len(n)) + n))  # HELLO v1, no capabilities
    body = recv_exact(t, struct.unpack('>I', recv_exact(t, 4))[0])
    if body[0] != 2:
        sys.exit('no WELCOME: frame type %d' % body[0])
    session, rid = struct.unpack('>IH', body[1:7])
    return t, session, rid


def header(kind, session):
    return struct.pack('>HBBI', 0xCC1D, 1, kind, session)


if mode == 'hello':
    name = sys.argv[4].encode()
    proof = bytes.fromhex(sys.argv[5]) if len(sys.argv) > 5 else b''
    caps = 1 | (4 if proof else 0)  # sealed, and a node proof when one is given
    t = socket.create_connection((server, PORT), timeout=10)
    t.sendall(frame(struct.pack('>BHIH', 1, 1, caps, len(name)) + name + proof))
    body = recv_exact(t, struct.unpack('>I', recv_exact(t, 4))[0])
    if body[0] == 2:
        print('WELCOME', flush=True)
    elif body[0] == 6:
        n = struct.unpack('>H', body[1:3])[0]
        print('END ' + body[3:3 + n].decode(), flush=True)
    else:
        print('frame type %d' % body[0], flush=True)
    t.close()
    sys.exit(0)

if mode == 'leave':
    t, session, rid = join('rogue-leaver')
    t.close()
    print('joined session %08x as %d and left' % (session, rid), flush=True)
    sys.exit(0)

seconds = float(sys.argv[3])
t, session, rid = join('rogue-loiterer')
t.sendall(frame(struct.pack('>BI', 3, 512) + b'\xff' * 512))  # NEED: every chunk there is
t.setblocking(False)
print('joined session %08x as receiver %d' % (session, rid), flush=True)

u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
g = struct.unpack('>I', socket.inet_aton(group))[0]
ended = header(3, session) + struct.pack('>HHIIBBH', PORT, PORT, g, 0, 2, 0, 1452) + bytes(16) + struct.pack('>Q', 0)


def status(r):
    return header(5, session) + struct.pack('>HHIIIIQH', r, 1000, 1000, 1000, 0, 64, 0, 0)


def naks(r):
    out = []
    for first in range(0, 64, 16):  # every chunk, each as one, two and three stripes: one of them fits
        entries = b''
        for c in range(first, first + 16):
            for stripes in (1, 2, 3):
                entries += struct.pack('>IB', c, stripes) + bytes([255, 0]) * stripes
        out.append(header(4, session) + struct.pack('>HH', r, 48) + entries)
    return out


others = [r for r in range(1, 9) if r != rid]
sent = {'ended': 0, 'status': 0, 'nak': 0}
end = time.monotonic() + seconds
next_announce = 0.0
dropped = ''
while time.monotonic() < end and not dropped:
    now = time.monotonic()
    if now >= next_announce:
        next_announce = now + 0.1
        for _ in range(3):
            for dst in (group, bcast):
                u.sendto(ended, (dst, PORT))
                sent['ended'] += 1
    for r in others + [rid]:
        u.sendto(status(r), (server, PORT))
        sent['status'] += 1
        for p in naks(r):
            u.sendto(p, (server, PORT))
            sent['nak'] += 1
    try:
        data = t.recv(4096)
        dropped = 'closed' if not data else data[5:].decode('utf-8', 'replace')
    except BlockingIOError:
        pass
    except OSError as e:
        dropped = str(e)
    time.sleep(0.02)
print('sent %d ENDED announcements, %d STATUS, %d NAK' % (sent['ended'], sent['status'], sent['nak']), flush=True)
print('sender dropped us: %s' % dropped if dropped else 'still joined after %.0f s' % seconds, flush=True)
