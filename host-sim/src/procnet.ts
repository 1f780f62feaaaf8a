/**
 * Writes /proc/net/{tcp,tcp6,udp,udp6} in the kernel's own format (net/ipv4/tcp_ipv4.c tcp4_seq_show,
 * net/ipv6/tcp_ipv6.c, net/ipv4/udp.c udp4_format_sock, net/ipv6/datagram.c), so profiles and scripted
 * faults ("SSH switched on") can produce socket tables the agent parses as on a camera.
 */

export type ProcNetProto = 'tcp' | 'tcp6' | 'udp' | 'udp6';

export interface ProcNetSocket {
  /** Dotted IPv4 for tcp/udp, full or `::`-style IPv6 for tcp6/udp6. */
  local: string;
  localPort: number;
  remote?: string;
  remotePort?: number;
  /** Kernel state: 0A LISTEN, 01 ESTABLISHED, 06 TIME_WAIT, 07 CLOSE (an unconnected UDP socket). */
  state: number;
  uid?: number;
  inode: number;
}

export const TCP_LISTEN = 0x0a;
export const TCP_ESTABLISHED = 0x01;
export const UDP_UNCONNECTED = 0x07;

const hex = (n: number, width: number) => n.toString(16).toUpperCase().padStart(width, '0');

/** 192.168.0.10 → 0A00A8C0 (the kernel prints the __be32 as a host-order (little-endian) word). */
export function ipv4Hex(ip: string): string {
  const p = ip.split('.').map((x) => parseInt(x, 10));
  if (p.length !== 4 || p.some((x) => !(x >= 0 && x <= 255))) throw new Error(`[host-sim] [procnet] bad IPv4 address ${ip}`);
  return p
    .reverse()
    .map((x) => hex(x, 2))
    .join('');
}

/** IPv6 as four little-endian 32-bit words, as tcp6_seq_show prints it. */
export function ipv6Hex(ip: string): string {
  const dotted = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(ip);
  if (dotted) {
    // ::ffff:192.168.0.90, an IPv4-mapped address: the last 32 bits written as two groups
    const b = dotted[2].split('.').map((x) => parseInt(x, 10));
    ip = `${dotted[1]}${((b[0] << 8) | b[1]).toString(16)}:${((b[2] << 8) | b[3]).toString(16)}`;
  }
  const [head, tail] = ip.includes('::') ? ip.split('::') : [ip, null];
  const h = head ? head.split(':').filter((x) => x.length > 0) : [];
  const t = tail ? tail.split(':').filter((x) => x.length > 0) : [];
  const groups = tail === null ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  if (groups.length !== 8) throw new Error(`[host-sim] [procnet] bad IPv6 address ${ip}`);
  const bytes: number[] = [];
  for (const g of groups) {
    const v = parseInt(g, 16);
    bytes.push((v >> 8) & 255, v & 255);
  }
  let out = '';
  for (let w = 0; w < 4; w++) {
    for (let b = 3; b >= 0; b--) out += hex(bytes[w * 4 + b], 2);
  }
  return out;
}

/** Formats one table. `pointerWidth` is 16 on aarch64, 8 on armv7hf (%pK, zeroed by kptr_restrict). */
export function formatProcNet(proto: ProcNetProto, sockets: ProcNetSocket[], pointerWidth = 16): string {
  const v6 = proto.endsWith('6');
  const udp = proto.startsWith('udp');
  const addr = (ip: string, port: number) => `${v6 ? ipv6Hex(ip) : ipv4Hex(ip)}:${hex(port, 4)}`;
  const anyAddr = v6 ? '::' : '0.0.0.0';
  const ptr = '0'.repeat(pointerWidth);
  const lines: string[] = [];
  if (!v6 && !udp) lines.push('  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode'.padEnd(149));
  if (!v6 && udp) lines.push('   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops'.padEnd(127));
  if (v6 && !udp) lines.push('  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode');
  if (v6 && udp) lines.push('  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops');
  sockets.forEach((s, i) => {
    const local = addr(s.local, s.localPort);
    const remote = addr(s.remote ?? anyAddr, s.remotePort ?? 0);
    const uid = String(s.uid ?? 0).padStart(5);
    const timer = s.state === TCP_ESTABLISHED && !udp ? '02:000AFC80' : '00:00000000';
    let line: string;
    if (udp) {
      line = `${String(i).padStart(5)}: ${local} ${remote} ${hex(s.state, 2)} 00000000:00000000 ${timer} 00000000 ${uid}        0 ${s.inode} 2 ${ptr} 0`;
      if (!v6) line = line.padEnd(127);
    } else {
      const tail = s.state === TCP_LISTEN ? '1 ' + ptr + ' 100 0 0 10 0' : '2 ' + ptr + ' 20 4 30 10 -1';
      line = `${String(i).padStart(4)}: ${local} ${remote} ${hex(s.state, 2)} 00000000:00000000 ${timer} 00000000 ${uid}        0 ${s.inode} ${tail}`;
      if (!v6) line = line.padEnd(149);
    }
    lines.push(line);
  });
  return lines.join('\n') + '\n';
}

/** Parses a table back (tests, and checks that a profile's sockets match its parameters). */
export function parseProcNet(text: string): Array<{ localHex: string; port: number; state: number; inode: number }> {
  const out: Array<{ localHex: string; port: number; state: number; inode: number }> = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const [ip, port] = f[1].split(':');
    out.push({ localHex: ip, port: parseInt(port, 16), state: parseInt(f[3], 16), inode: Number(f[9]) });
  }
  return out;
}
