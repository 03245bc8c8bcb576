// TCP and TLS against a real libvirtd (--listen; for TLS its own throwaway CA and certificates): our
// client lists what virsh lists over the same port; with libvirt's pkipath= layout for TLS; a client
// whose CA does not sign the server is refused; and SCRAM-SHA-256 over TLS on a port that requires
// SASL. Needs root (the daemon's private /etc/sasl2) and openssl.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LibvirtConnection } from '../../src/libvirt/connection.js';
import { LibvirtConnectError, LibvirtError } from '../../src/libvirt/errors.js';
import { freePort } from '../../tools/sandbox/net.js';
import { lines, type PrivateLibvirtd, startLibvirtd } from '../helpers/libvirtd.js';
import { makePki } from '../helpers/pki.js';
import { runOk } from '../helpers/run.js';

let dir: string;
let pki: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'tls-live-'));
  pki = join(dir, 'pki');
  makePki(pki, 'tls-live-ca');
  makePki(join(dir, 'other'), 'other-ca');
});
after(() => rmSync(dir, { recursive: true, force: true }));

async function virshNames(uri: string, env: Record<string, string> = {}): Promise<string[]> {
  const stdout = await runOk('virsh', ['-q', '-c', uri, 'list', '--all', '--name'], { env: { ...process.env, ...env } });
  return lines(stdout);
}

describe('plain TCP, no authentication', () => {
  it('test+tcp://127.0.0.1:PORT/default: the same domains as virsh over TCP', async () => {
    const port = await freePort();
    const d = await startLibvirtd({ tcp: { port } });
    try {
      const uri = `test+tcp://127.0.0.1:${port}/default`;
      const conn = await LibvirtConnection.open(uri);
      try {
        assert.equal(conn.plan.target.transport, 'tcp');
        const { domains } = await conn.connectListAllDomains({ need_results: 1, flags: 0 });
        assert.deepEqual(domains.map((x) => x.name).sort(), await virshNames(uri));
      } finally {
        await conn.close();
      }
    } finally {
      await d.stop();
    }
  });
});

describe('TLS, no authentication', () => {
  let d: PrivateLibvirtd;
  let port: number;
  before(async () => {
    port = await freePort();
    d = await startLibvirtd({ tls: { port, pki } });
  });
  after(async () => {
    await d?.stop();
  });

  it('test+tls://localhost:PORT/default?pkipath=…: the same domains as virsh over TLS and over the socket', async () => {
    const uri = `test+tls://localhost:${port}/default?pkipath=${encodeURIComponent(pki)}`;
    const conn = await LibvirtConnection.open(uri);
    try {
      assert.equal(conn.plan.target.transport, 'tls');
      const { domains } = await conn.connectListAllDomains({ need_results: 1, flags: 0 });
      const names = domains.map((x) => x.name).sort();
      assert.deepEqual(names, await virshNames(uri));
      assert.deepEqual(names, await virshNames(d.testUri));
    } finally {
      await conn.close();
    }
  });

  it('a CA that did not sign the server: a typed connect error, nothing opened', async () => {
    const c = new LibvirtConnection(`test+tls://localhost:${port}/default?pkipath=${encodeURIComponent(join(dir, 'other'))}`);
    await assert.rejects(c.open(), LibvirtConnectError);
    assert.equal(c.isOpen, false);
  });
});

describe('TLS with SASL (SCRAM-SHA-256 over TLS)', () => {
  let d: PrivateLibvirtd;
  let port: number;
  let authfile: string;
  before(async () => {
    port = await freePort();
    d = await startLibvirtd({ tls: { port, pki }, sasl: { mechanisms: 'scram-sha-256', users: { dave: 'tls and sasl' }, on: 'tls' } });
    authfile = join(dir, 'auth.conf');
    writeFileSync(authfile, '[credentials-d]\nauthname=dave\npassword=tls and sasl\n[auth-libvirt-localhost]\ncredentials=d\n');
  });
  after(async () => {
    await d?.stop();
  });

  it('authenticates with the auth.conf and lists what virsh lists with it', async () => {
    const uri = `test+tls://localhost:${port}/default?pkipath=${encodeURIComponent(pki)}`;
    const conn = await LibvirtConnection.open(`${uri}&authfile=${encodeURIComponent(authfile)}`);
    try {
      const { domains } = await conn.connectListAllDomains({ need_results: 1, flags: 0 });
      assert.deepEqual(domains.map((x) => x.name).sort(), await virshNames(uri, { LIBVIRT_AUTH_FILE: authfile }));
    } finally {
      await conn.close();
    }
  });

  it('a wrong password is refused by the daemon', async () => {
    const uri = `test+tls://localhost:${port}/default?pkipath=${encodeURIComponent(pki)}`;
    await assert.rejects(LibvirtConnection.open(uri, { credentials: { authname: 'dave', password: 'nope' } }), (e: unknown) => {
      assert.ok(e instanceof LibvirtError);
      assert.equal(e.codeName, 'VIR_ERR_AUTH_FAILED');
      return true;
    });
  });
});
