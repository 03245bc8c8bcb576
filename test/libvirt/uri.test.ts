// URI parsing and socket resolution, checked against the behaviour of libvirt's remote driver.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { LibvirtUriError } from '../../src/libvirt/errors.js';
import { daemonUri, parseUri, resolveUri, tlsPaths, unixSocketPath } from '../../src/libvirt/uri.js';

const none = () => false;

describe('parseUri', () => {
  it('splits driver, transport, user, host, port, path, params', () => {
    const u = parseUri('qemu+TCP://alice@example.org:1234/system?no_verify=1&foo=a%20b');
    assert.equal(u.driver, 'qemu');
    assert.equal(u.transport, 'tcp');
    assert.equal(u.user, 'alice');
    assert.equal(u.host, 'example.org');
    assert.equal(u.port, 1234);
    assert.equal(u.path, '/system');
    assert.deepEqual(u.params, [
      ['no_verify', '1'],
      ['foo', 'a b'],
    ]);
  });

  it('parses local URIs without an authority host', () => {
    const u = parseUri('qemu:///system');
    assert.equal(u.driver, 'qemu');
    assert.equal(u.transport, undefined);
    assert.equal(u.host, undefined);
    assert.equal(u.path, '/system');
  });

  it('parses IPv6 hosts', () => {
    const u = parseUri('qemu+tls://[::1]:16514/system');
    assert.equal(u.host, '::1');
    assert.equal(u.port, 16514);
  });

  it('rejects unknown transports, bad ports and unix with a host', () => {
    assert.throws(() => parseUri('qemu+carrier-pigeon:///system'), LibvirtUriError);
    assert.throws(() => parseUri('qemu+tcp://host:99999/system'), LibvirtUriError);
    assert.throws(() => parseUri('qemu+tcp://host:12ab/system'), LibvirtUriError);
    assert.throws(() => parseUri('qemu+unix://host/system'), LibvirtUriError);
    assert.throws(() => parseUri('not a uri'), LibvirtUriError);
    assert.throws(() => parseUri('qemu:///system?x=%zz'), LibvirtUriError);
  });
});

describe('daemonUri (the name sent in REMOTE_PROC_CONNECT_OPEN)', () => {
  it('drops transport, host and remote-only parameters', () => {
    assert.equal(daemonUri(parseUri('test+unix:///default?socket=/tmp/x/libvirt-sock')), 'test:///default');
    assert.equal(daemonUri(parseUri('qemu+tls://host:1/system?no_verify=1&pkipath=/p')), 'qemu:///system');
    assert.equal(daemonUri(parseUri('qemu:///session')), 'qemu:///session');
  });

  it('keeps other parameters for the driver', () => {
    assert.equal(daemonUri(parseUri('test+unix:///default?socket=/s&foo=bar%20baz')), 'test:///default?foo=bar%20baz');
  });

  it('honours name= and lets remote:// probe', () => {
    assert.equal(daemonUri(parseUri('remote+unix:///?socket=/s&name=qemu:///system')), 'qemu:///system');
    assert.equal(daemonUri(parseUri('remote+unix:///?socket=/s')), '');
  });
});

describe('resolveUri', () => {
  it('defaults to unix without a host and tls with one', () => {
    assert.equal(resolveUri('qemu:///system', { exists: none, euid: 0 }).target.transport, 'unix');
    const t = resolveUri('qemu://h/system', { exists: none, euid: 0 }).target;
    assert.deepEqual(t, {
      transport: 'tls',
      host: 'h',
      port: 16514,
      caFile: '/etc/pki/CA/cacert.pem',
      certFile: '/etc/pki/libvirt/clientcert.pem',
      keyFile: '/etc/pki/libvirt/private/clientkey.pem',
      verify: true,
    });
  });

  it('uses 16509 for tcp and honours no_verify and pkipath for tls', () => {
    assert.deepEqual(resolveUri('qemu+tcp://h/system').target, { transport: 'tcp', host: 'h', port: 16509 });
    const t = resolveUri('qemu+tls://h:1/system?no_verify=1&pkipath=/pki');
    assert.deepEqual(t.target, {
      transport: 'tls',
      host: 'h',
      port: 1,
      caFile: '/pki/cacert.pem',
      certFile: '/pki/clientcert.pem',
      keyFile: '/pki/clientkey.pem',
      verify: false,
    });
  });

  it('takes socket= verbatim and keeps auth=', () => {
    const p = resolveUri('test+unix:///default?socket=/tmp/a%20b/sock&auth=polkit');
    assert.deepEqual(p.target, { transport: 'unix', path: '/tmp/a b/sock' });
    assert.equal(p.auth, 'polkit');
    assert.equal(p.name, 'test:///default');
  });

  it('ssh: OpenSSH with the options libvirt passes, then netcat on the remote socket or virt-ssh-helper', () => {
    const p = resolveUri('qemu+ssh://alice@host:2222/system?keyfile=/k/id&no_verify=1&no_tty=1&proxy=netcat&socket=/run/x%20y');
    assert.equal(p.target.transport, 'ssh');
    assert.ok('argv' in p.target);
    const argv = p.target.argv;
    assert.deepEqual(argv.slice(0, argv.indexOf('--')), [
      'ssh',
      '-p',
      '2222',
      '-l',
      'alice',
      '-i',
      '/k/id',
      '-T',
      '-e',
      'none',
      '-o',
      'BatchMode=yes',
      '-o',
      'StrictHostKeyChecking=no',
    ]);
    assert.deepEqual(argv.slice(argv.indexOf('--') + 1, -1), ['host', 'sh', '-c']);
    // The script is one quoted word for the remote shell; unquoted once, it runs netcat on the socket.
    const script = argv.at(-1) as string;
    const word = execFileSync('sh', ['-c', `printf %s ${script}`], { encoding: 'utf8' });
    assert.match(word, /exec 'nc' \$ARG -U '\/run\/x y'$/);
    assert.equal(p.name, 'qemu:///system');
  });

  it('ssh: proxy=auto prefers virt-ssh-helper with the daemon URI, read-only with -r', () => {
    const p = resolveUri('qemu+ssh://host/system', { readonly: true });
    assert.ok('argv' in p.target);
    const word = execFileSync('sh', ['-c', `printf %s ${p.target.argv.at(-1)}`], { encoding: 'utf8' });
    assert.match(word, /^if command -v virt-ssh-helper .* then exec virt-ssh-helper -r 'qemu:\/\/\/system'; fi; /);
    assert.match(word, /-U '\/var\/run\/libvirt\/libvirt-sock-ro'$/);
    assert.deepEqual(resolveUri('qemu+libssh2://h/system?known_hosts=/kh').target.transport, 'ssh');
    const kh = resolveUri('qemu+libssh://h/system?known_hosts=/kh');
    assert.ok('argv' in kh.target && kh.target.argv.includes('UserKnownHostsFile=/kh'));
  });

  it('ssh: bad proxy modes and netcat to a session daemon without socket= are refused', () => {
    assert.throws(() => resolveUri('qemu+ssh://h/system?proxy=telnet'), LibvirtUriError);
    assert.throws(() => resolveUri('qemu+ssh://h/session?proxy=netcat'), LibvirtUriError);
    const native = resolveUri('qemu+ssh://h/session');
    assert.ok('argv' in native.target && /exec virt-ssh-helper/.test(native.target.argv.at(-1) as string));
  });

  it('ext: runs command= (and needs it)', () => {
    assert.deepEqual(resolveUri('qemu+ext:///system?command=/usr/bin/proxy').target, { transport: 'ext', argv: ['/usr/bin/proxy'] });
    assert.throws(() => resolveUri('qemu+ext:///system'), LibvirtUriError);
  });
});

describe("autostart of the user's daemon", () => {
  const ctx = { euid: 1000, env: { XDG_RUNTIME_DIR: '/run/user/1000' }, exists: none };
  it('session and test URIs of a user start libvirtd --timeout=120 when nothing listens', () => {
    for (const uri of ['qemu:///session', 'test:///default', 'test+unix:///default']) {
      assert.deepEqual(resolveUri(uri, ctx).target, {
        transport: 'unix',
        path: '/run/user/1000/libvirt/libvirt-sock',
        autostart: '/usr/sbin/libvirtd',
      });
    }
    assert.equal(
      (resolveUri('qemu:///session', { ...ctx, env: { ...ctx.env, LIBVIRTD_PATH: '/opt/libvirtd' } }).target as { autostart?: string })
        .autostart,
      '/opt/libvirtd',
    );
  });

  it('direct mode starts the per-driver daemon', () => {
    const t = resolveUri('qemu:///session?mode=direct', ctx).target;
    assert.deepEqual(t, { transport: 'unix', path: '/run/user/1000/libvirt/virtqemud-sock', autostart: '/usr/sbin/virtqemud' });
  });

  it('never for root, an explicit socket=, or LIBVIRT_AUTOSTART=0', () => {
    assert.deepEqual(resolveUri('qemu:///system', { ...ctx, euid: 0 }).target, { transport: 'unix', path: '/run/libvirt/libvirt-sock' });
    assert.deepEqual(resolveUri('qemu:///system', ctx).target, { transport: 'unix', path: '/run/libvirt/libvirt-sock' });
    assert.deepEqual(resolveUri('qemu:///session?socket=/s', ctx).target, { transport: 'unix', path: '/s' });
    assert.equal('autostart' in resolveUri('qemu:///session', { ...ctx, env: { ...ctx.env, LIBVIRT_AUTOSTART: '0' } }).target, false);
  });
});

describe('local socket paths', () => {
  it('system: modular daemon socket first, then libvirt-sock', () => {
    const u = parseUri('qemu:///system');
    assert.equal(unixSocketPath(u, { euid: 0, exists: none }), '/run/libvirt/libvirt-sock');
    assert.equal(unixSocketPath(u, { euid: 0, exists: (p) => p === '/run/libvirt/virtqemud-sock' }), '/run/libvirt/virtqemud-sock');
    assert.equal(
      unixSocketPath(u, { euid: 0, readonly: true, exists: (p) => p === '/run/libvirt/virtqemud-sock-ro' }),
      '/run/libvirt/virtqemud-sock-ro',
    );
    assert.equal(unixSocketPath(parseUri('network:///system'), { euid: 0, exists: () => true }), '/run/libvirt/virtnetworkd-sock');
  });

  it('mode= forces legacy or direct', () => {
    assert.equal(unixSocketPath(parseUri('qemu:///system?mode=legacy'), { euid: 0, exists: () => true }), '/run/libvirt/libvirt-sock');
    assert.equal(unixSocketPath(parseUri('qemu:///system?mode=direct'), { euid: 0, exists: none }), '/run/libvirt/virtqemud-sock');
    assert.throws(() => unixSocketPath(parseUri('qemu:///system?mode=odd'), { euid: 0 }), LibvirtUriError);
  });

  it('session for an unprivileged user: $XDG_RUNTIME_DIR/libvirt, else ~/.cache/libvirt', () => {
    const u = parseUri('qemu:///session');
    assert.equal(
      unixSocketPath(u, { euid: 1000, env: { XDG_RUNTIME_DIR: '/run/user/1000' }, exists: none }),
      '/run/user/1000/libvirt/libvirt-sock',
    );
    assert.equal(
      unixSocketPath(u, {
        euid: 1000,
        env: { XDG_RUNTIME_DIR: '/run/user/1000' },
        exists: (p) => p === '/run/user/1000/libvirt/virtqemud-sock',
      }),
      '/run/user/1000/libvirt/virtqemud-sock',
    );
    assert.equal(unixSocketPath(u, { euid: 1000, env: {}, home: '/home/a', exists: none }), '/home/a/.cache/libvirt/libvirt-sock');
  });

  it('non-root TLS uses ~/.pki/libvirt when the client certificate is there', () => {
    const have = new Set(['/home/a/.pki/libvirt/clientcert.pem', '/home/a/.pki/libvirt/clientkey.pem']);
    assert.deepEqual(tlsPaths(undefined, { euid: 1000, home: '/home/a', exists: (p) => have.has(p) }), {
      caFile: '/etc/pki/CA/cacert.pem',
      certFile: '/home/a/.pki/libvirt/clientcert.pem',
      keyFile: '/home/a/.pki/libvirt/clientkey.pem',
    });
  });
});
