// The ssh and ext transports against real peers: OpenSSH (a private sshd on 127.0.0.1) in front of
// netcat on a private libvirtd's socket, and an ext command= running netcat; answers checked
// against virsh on the daemon's own socket. (org.libvirt over ssh: test/service/remote-connect.test.ts.)
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LibvirtConnection } from '../../src/libvirt/connection.js';
import { LibvirtConnectionClosedError, LibvirtError } from '../../src/libvirt/errors.js';
import { lines, type PrivateLibvirtd, startLibvirtd } from '../helpers/libvirtd.js';
import { type PrivateSshd, startSshd } from '../helpers/sshd.js';

let d: PrivateLibvirtd;
let sshd: PrivateSshd;

/** test:///default of the private libvirtd, reached through sshd and netcat. */
function sshUri(keyFile: string, extra = ''): string {
  const q = new URLSearchParams({
    keyfile: keyFile,
    no_verify: '1',
    no_tty: '1',
    known_hosts: sshd.knownHostsFile,
    proxy: 'netcat',
    socket: d.socketPath,
  });
  return `test+ssh://${sshd.user}@127.0.0.1:${sshd.port}/default?${q}${extra}`;
}

/** What virsh says on the daemon's own socket: the domain names, sorted. */
async function virshNames(): Promise<string[]> {
  return lines(await d.virsh(d.testUri, 'list', '--all', '--name'));
}

before(async () => {
  d = await startLibvirtd();
  sshd = await startSshd();
});

after(async () => {
  await sshd?.stop();
  await d?.stop();
});

describe('ssh transport (OpenSSH, netcat proxy)', () => {
  it('opens test:///default through sshd and answers like virsh on the socket', async () => {
    const conn = await LibvirtConnection.open(sshUri(sshd.keyFile));
    try {
      assert.equal(conn.daemonUri, 'test:///default');
      assert.equal(conn.plan.target.transport, 'ssh');
      const { domains } = await conn.connectListAllDomains({ need_results: 1, flags: 0 });
      assert.deepEqual(domains.map((x) => x.name).sort(), await virshNames());
      const { hostname } = await conn.connectGetHostname();
      assert.equal(hostname, (await d.virsh(d.testUri, 'hostname')).trim());
      // Many calls in flight over the one ssh channel.
      const many = await Promise.all(Array.from({ length: 50 }, () => conn.connectGetHostname()));
      assert.ok(many.every((h) => h.hostname === hostname));
    } finally {
      await conn.close();
    }
  });

  it('close() ends the ssh process, and a later call fails at once', async () => {
    const conn = await LibvirtConnection.open(sshUri(sshd.keyFile));
    await conn.close();
    await assert.rejects(conn.connectGetHostname(), LibvirtError);
  });

  it('the ssh channel dying mid-call: pending calls fail at once, closed fires once', async () => {
    const conn = await LibvirtConnection.open(sshUri(sshd.keyFile));
    const reasons: string[] = [];
    conn.on('closed', (ev) => reasons.push(ev.reason));
    // Freeze the daemon so that the calls stay pending, then kill the remote netcat under them.
    process.kill(d.pid, 'SIGSTOP');
    try {
      const calls = Array.from({ length: 10 }, () => conn.connectGetHostname());
      const settled = Promise.allSettled(calls);
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(conn.pendingCalls, 10);
      execFileSync('pkill', ['-f', `nc.* -U ${d.socketPath}`]);
      const started = Date.now();
      const results = await settled;
      assert.ok(Date.now() - started < 10_000, 'rejected promptly');
      assert.ok(results.every((r) => r.status === 'rejected' && r.reason instanceof LibvirtConnectionClosedError));
      assert.deepEqual(reasons, ['eof']);
      assert.equal(conn.isOpen, false);
    } finally {
      process.kill(d.pid, 'SIGCONT');
    }
  });

  it("a key sshd refuses: open fails with ssh's own words", async () => {
    await assert.rejects(LibvirtConnection.open(sshUri(sshd.strangerKeyFile)), (e: unknown) => {
      assert.ok(e instanceof LibvirtError, String(e));
      assert.match(e.message, /Permission denied/);
      return true;
    });
  });

  it('netcat on a socket that is not there: open fails saying so', async () => {
    const uri = sshUri(sshd.keyFile).replace(encodeURIComponent(d.socketPath), encodeURIComponent(join(d.dir, 'nope')));
    await assert.rejects(LibvirtConnection.open(uri), (e: unknown) => {
      assert.ok(e instanceof LibvirtError, String(e));
      assert.match(e.message, /No such file|nope/);
      return true;
    });
  });
});

describe('ssh transport, default proxy (virt-ssh-helper on the remote side)', () => {
  let helperSshd: PrivateSshd;
  before(async () => {
    helperSshd = await startSshd({ runLibvirt: dirname(d.socketPath) });
  });
  after(async () => {
    await helperSshd?.stop();
  });

  /** Whether `virt-ssh-helper<flags> test:///default` runs (the remote end of our connection). */
  const helperRuns = (flags: string) => spawnSync('pgrep', ['-f', `^virt-ssh-helper${flags} test:///default$`]).status === 0;

  const uri = () => {
    const q = new URLSearchParams({ keyfile: helperSshd.keyFile, no_verify: '1', no_tty: '1', known_hosts: helperSshd.knownHostsFile });
    return `test+ssh://${helperSshd.user}@127.0.0.1:${helperSshd.port}/default?${q}`;
  };

  it('proxy=auto finds virt-ssh-helper and reaches the daemon of the standard socket', async () => {
    const conn = await LibvirtConnection.open(uri());
    try {
      const { domains } = await conn.connectListAllDomains({ need_results: 1, flags: 0 });
      assert.deepEqual(domains.map((x) => x.name).sort(), await virshNames());
      assert.ok(helperRuns(''), 'virt-ssh-helper test:///default carries the connection');
    } finally {
      await conn.close();
    }
  });

  it('read-only: virt-ssh-helper -r, and the daemon refuses a change', async () => {
    const conn = await LibvirtConnection.open(uri(), { readonly: true });
    try {
      assert.ok(helperRuns(' -r'), 'virt-ssh-helper -r test:///default carries the connection');
      const { dom } = await conn.domainLookupByName({ name: 'test' });
      await assert.rejects(
        conn.domainSuspend({ dom }),
        (e: unknown) => e instanceof LibvirtError && e.codeName === 'VIR_ERR_OPERATION_DENIED',
      );
    } finally {
      await conn.close();
    }
  });
});

describe('ext transport', () => {
  it('command= carries the protocol on its standard input and output', async () => {
    const proxy = join(sshd.dir, 'proxy.sh');
    writeFileSync(proxy, `#!/bin/sh\nexec nc -U '${d.socketPath}'\n`);
    chmodSync(proxy, 0o755);
    const conn = await LibvirtConnection.open(`test+ext:///default?command=${encodeURIComponent(proxy)}`);
    try {
      assert.equal(conn.plan.target.transport, 'ext');
      const { domains } = await conn.connectListAllDomains({ need_results: 1, flags: 0 });
      assert.deepEqual(domains.map((x) => x.name).sort(), await virshNames());
    } finally {
      await conn.close();
    }
  });

  it('a command that does not exist: a typed connect error', async () => {
    await assert.rejects(LibvirtConnection.open('test+ext:///default?command=/nonexistent/proxy'), (e: unknown) => {
      assert.ok(e instanceof LibvirtError, String(e));
      assert.match(e.message, /nonexistent/);
      return true;
    });
  });
});
