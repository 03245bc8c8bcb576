// SASL: the mechanisms against the RFCs' test vectors and garbage, auth.conf lookup, and a real
// libvirtd whose read-write socket requires SASL (Cyrus SASL with a private sasldb), checked against
// virsh reading the same auth.conf.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { lookupCredentials, parseKeyFile } from '../../src/libvirt/auth-config.js';
import { LibvirtConnection } from '../../src/libvirt/connection.js';
import { LibvirtAuthError, LibvirtError } from '../../src/libvirt/errors.js';
import { chooseMechanism, createMechanism, SaslError } from '../../src/libvirt/sasl.js';
import { lines, type PrivateLibvirtd, startLibvirtd } from '../helpers/libvirtd.js';
import { runOk } from '../helpers/run.js';

describe('SCRAM against the RFC test vectors', () => {
  for (const v of [
    {
      // RFC 7677 section 3
      mech: 'SCRAM-SHA-256',
      nonce: 'rOprNGfwEbeRWgbNEkqO',
      serverFirst: 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
      clientFinal: 'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
      serverFinal: 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
    },
    {
      // RFC 5802 section 5
      mech: 'SCRAM-SHA-1',
      nonce: 'fyko+d2lbbFgONRv9qkxdawL',
      serverFirst: 'r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096',
      clientFinal: 'c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=',
      serverFinal: 'v=rmF9pqV8S7suAoZWja4dJRkFsKQ=',
    },
  ]) {
    it(`${v.mech}: client messages, and the server's proof checked`, () => {
      const m = createMechanism(v.mech, { authname: 'user', password: 'pencil' }, v.nonce);
      assert.equal(m.start().toString(), `n,,n=user,r=${v.nonce}`);
      assert.equal(m.step(Buffer.from(v.serverFirst)).toString(), v.clientFinal);
      assert.equal(m.complete, false);
      assert.equal(m.step(Buffer.from(v.serverFinal)).length, 0);
      assert.equal(m.complete, true);
    });

    it(`${v.mech}: a server that does not know the password is caught`, () => {
      const m = createMechanism(v.mech, { authname: 'user', password: 'pencil' }, v.nonce);
      m.start();
      m.step(Buffer.from(v.serverFirst));
      assert.throws(() => m.step(Buffer.from('v=AAAAAAAAAAAAAAAAAAAAAAAAAAA=')), SaslError);
      assert.equal(m.complete, false);
    });
  }

  it('a server nonce that does not extend ours, and e= errors, are refused', () => {
    const m = createMechanism('SCRAM-SHA-256', { authname: 'user', password: 'pencil' }, 'abc');
    m.start();
    assert.throws(() => m.step(Buffer.from('r=xyz123,s=QSXCR+Q6sek8bf92,i=4096')), SaslError);
    const n = createMechanism('SCRAM-SHA-256', { authname: 'user', password: 'pencil' }, 'abc');
    n.start();
    n.step(Buffer.from('r=abcdef,s=QSXCR+Q6sek8bf92,i=1'));
    assert.throws(() => n.step(Buffer.from('e=invalid-proof')), /invalid-proof/);
  });

  it('names with , and = are escaped (RFC 5802 saslname)', () => {
    const m = createMechanism('SCRAM-SHA-1', { authname: 'a,b=c', password: 'x' }, 'n');
    assert.equal(m.start().toString(), 'n,,n=a=2Cb=3Dc,r=n');
  });

  it('PLAIN: authzid, authcid and password between NULs', () => {
    const m = createMechanism('PLAIN', { authname: 'alice', password: 'pw' });
    assert.deepEqual(m.start(), Buffer.from('\0alice\0pw'));
    assert.equal(m.complete, true);
  });

  it('garbage from the server: SaslError, never anything else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.uint8Array({ maxLength: 200 }), (a, b) => {
        const m = createMechanism('SCRAM-SHA-256', { authname: 'u', password: 'p' }, 'nonce');
        m.start();
        try {
          m.step(Buffer.from(a));
          m.step(Buffer.from(b));
        } catch (e) {
          if (!(e instanceof SaslError)) throw e;
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('mechanism choice: ours, best first, or the one auth=sasl.MECH names', () => {
    assert.equal(chooseMechanism('GSSAPI,PLAIN,SCRAM-SHA-1,SCRAM-SHA-256'), 'SCRAM-SHA-256');
    assert.equal(chooseMechanism('gssapi plain'), 'PLAIN');
    assert.equal(chooseMechanism('GSSAPI'), undefined);
    assert.equal(chooseMechanism('PLAIN,SCRAM-SHA-256', 'plain'), 'PLAIN');
    assert.equal(chooseMechanism('SCRAM-SHA-256', 'gssapi'), undefined);
  });
});

describe('auth.conf', () => {
  const text = `# comment
[credentials-admin]
authname=alice
password=s3cret = yes

[auth-libvirt-myhost]
credentials=admin

[auth-libvirt-default]
credentials=other
[credentials-other]
username=bob
`;
  it('finds the credentials of a host, else of auth-SERVICE-default', () => {
    const file = parseKeyFile(text);
    assert.equal(lookupCredentials(file, 'libvirt', 'myhost')?.get('password'), 's3cret = yes');
    assert.equal(lookupCredentials(file, 'libvirt', 'elsewhere')?.get('username'), 'bob');
    assert.equal(lookupCredentials(file, 'ssh', 'myhost'), undefined);
  });

  it('a credentials group that is missing, and lines that are not key=value, are errors', () => {
    assert.throws(() => lookupCredentials(parseKeyFile('[auth-libvirt-h]\ncredentials=x\n'), 'libvirt', 'h'), LibvirtAuthError);
    assert.throws(() => parseKeyFile('[g]\nno equals sign\n'), LibvirtAuthError);
  });
});

describe('SASL against a real libvirtd (Cyrus SASL, private sasldb; needs root)', () => {
  let d: PrivateLibvirtd;
  let dir: string;
  let authfile: string;
  const PASSWORD = 'correct horse';

  before(async () => {
    d = await startLibvirtd({ sasl: { mechanisms: 'scram-sha-256 scram-sha-1 plain', users: { alice: PASSWORD } } });
    dir = mkdtempSync(join(tmpdir(), 'sasl-'));
    authfile = join(dir, 'auth.conf');
    writeFileSync(authfile, `[credentials-t]\nauthname=alice\npassword=${PASSWORD}\n\n[auth-libvirt-localhost]\ncredentials=t\n`);
  });

  after(async () => {
    await d?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** virsh on the same socket with the same auth.conf: the domain names. */
  async function virshNames(): Promise<string[]> {
    const stdout = await runOk('virsh', ['-q', '-c', d.testUri, 'list', '--all', '--name'], {
      env: { ...process.env, LIBVIRT_AUTH_FILE: authfile },
    });
    return lines(stdout);
  }

  for (const mech of ['scram-sha-256', 'scram-sha-1', 'plain']) {
    it(`auth=sasl.${mech} with authfile=: opens and lists what virsh lists`, async () => {
      const conn = await LibvirtConnection.open(`${d.testUri}&auth=sasl.${mech}&authfile=${encodeURIComponent(authfile)}`);
      try {
        const { domains } = await conn.connectListAllDomains({ need_results: 1, flags: 0 });
        assert.deepEqual(domains.map((x) => x.name).sort(), await virshNames());
      } finally {
        await conn.close();
      }
    });
  }

  it('credentials given to open() instead of a file', async () => {
    const conn = await LibvirtConnection.open(d.testUri, { credentials: { authname: 'alice', password: PASSWORD } });
    assert.equal((await conn.connectGetUri()).uri, 'test:///default');
    await conn.close();
  });

  it("a wrong password: the daemon's VIR_ERR_AUTH_FAILED, and nothing opened", async () => {
    const c = new LibvirtConnection(d.testUri, { credentials: { authname: 'alice', password: 'wrong' } });
    await assert.rejects(c.open(), (e: unknown) => {
      assert.ok(e instanceof LibvirtError, String(e));
      assert.equal(e.codeName, 'VIR_ERR_AUTH_FAILED');
      return true;
    });
    assert.equal(c.isOpen, false);
  });

  it('no credentials anywhere: LibvirtAuthError saying where they are looked for', async () => {
    const empty = join(dir, 'empty.conf');
    writeFileSync(empty, '# nothing\n');
    await assert.rejects(LibvirtConnection.open(`${d.testUri}&authfile=${encodeURIComponent(empty)}`), (e: unknown) => {
      assert.ok(e instanceof LibvirtAuthError, String(e));
      assert.match(e.message, /auth\.conf/);
      return true;
    });
  });
});
