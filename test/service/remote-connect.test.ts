// org.libvirt over libvirt's ssh transport: bin/libvirt-dbus --connect Remote=test+ssh://… through a
// private sshd (netcat proxy) to a private libvirtd; gdbus and our client against virsh on the daemon.
// And over a socket that requires SASL, with the credentials in an auth.conf.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DomainProxy, OrgLibvirt } from '../../src/client/index.js';
import { lines, type PrivateLibvirtd } from '../helpers/libvirtd.js';
import { runOk } from '../helpers/run.js';
import { type PrivateSshd, startSshd } from '../helpers/sshd.js';
import { IFACE, startFixture } from './fixture.js';

let sshd: PrivateSshd;

before(async () => {
  sshd = await startSshd();
});

after(async () => {
  await sshd?.stop();
});

async function virshNames(d: PrivateLibvirtd): Promise<string[]> {
  return lines(await d.virsh(d.testUri, 'list', '--all', '--name'));
}

describe('org.libvirt over ssh', () => {
  it('bin/libvirt-dbus --connect Remote=test+ssh://…: gdbus lists the same domains as virsh', async () => {
    const fx = await startFixture({
      args: (d) => [
        '--session',
        '--no-default-connects',
        '--connect',
        `Remote=test+ssh://${sshd.user}@127.0.0.1:${sshd.port}/default?${new URLSearchParams({
          keyfile: sshd.keyFile,
          no_verify: '1',
          no_tty: '1',
          known_hosts: sshd.knownHostsFile,
          proxy: 'netcat',
          socket: d.socketPath,
        })}`,
      ],
    });
    try {
      const stdout = await runOk('gdbus', [
        'call',
        '--address',
        fx.bus.address,
        '--dest',
        'org.libvirt',
        '--object-path',
        '/org/libvirt/Remote',
        '--method',
        'org.libvirt.Connect.ListDomains',
        '0',
      ]);
      const paths = [...stdout.matchAll(/'(\/org\/libvirt\/Remote\/domain\/[^']+)'/g)].map((m) => m[1] as string);
      assert.equal(paths.length, (await virshNames(fx.libvirtd)).length, stdout);
      // Our typed client lists the same objects as gdbus, with the names virsh gives.
      const remote = OrgLibvirt.on(fx.client.conn, 'Remote');
      assert.deepEqual((await remote.listDomains(0)).map((d) => d.objectPath).sort(), [...paths].sort());
      const names: string[] = [];
      for (const path of paths) names.push(await new DomainProxy(fx.client.conn, path).name);
      assert.deepEqual(names.sort(), await virshNames(fx.libvirtd));
    } finally {
      await fx.stop();
    }
  });
});

describe('org.libvirt on a libvirtd that requires SASL', () => {
  it('bin/libvirt-dbus --connect Sasl=…&authfile=…: busctl lists the same domains as virsh', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sasl-svc-'));
    const authfile = join(dir, 'auth.conf');
    writeFileSync(authfile, '[credentials-c]\nauthname=carol\npassword=pa ss\n[auth-libvirt-default]\ncredentials=c\n');
    const fx = await startFixture({
      libvirtd: { sasl: { mechanisms: 'scram-sha-256', users: { carol: 'pa ss' } } },
      args: (sasl) => ['--session', '--no-default-connects', '--connect', `Sasl=${sasl.testUri}&authfile=${encodeURIComponent(authfile)}`],
    });
    const bus = fx.bus;
    const sasl = fx.libvirtd;
    try {
      const stdout = await runOk(
        'busctl',
        ['--address', bus.address, 'call', 'org.libvirt', '/org/libvirt/Sasl', IFACE.Connect, 'ListDomains', 'u', '0'],
        { env: { ...process.env, DBUS_SESSION_BUS_ADDRESS: bus.address } },
      );
      const paths = stdout.match(/\/org\/libvirt\/Sasl\/domain\/\S+/g) ?? [];
      const names = await runOk('virsh', ['-q', '-c', sasl.testUri, 'list', '--all', '--name'], {
        env: { ...process.env, LIBVIRT_AUTH_FILE: authfile },
      });
      assert.ok(paths.length > 0, stdout);
      assert.equal(paths.length, lines(names).length, stdout);
    } finally {
      await fx.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
