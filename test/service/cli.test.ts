// bin/libvirt-dbus: options as the reference's plus ours, owning org.libvirt, failing with a
// one-line reason, clean shutdown on SIGTERM, exit when the bus goes away, and --listen serving
// the same objects peer to peer.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { parseArgs, UsageError } from '../../src/cli.js';
import { OrgLibvirt } from '../../src/client/index.js';
import { DBusConnection, DBusError, parseIntrospectionXml } from '../../src/dbus/index.js';
import { errorOf } from '../helpers/errors.js';
import { defaultConnects, mergeConnects } from '../../src/service/service.js';
import { type PrivateBus, startBus } from '../helpers/bus.js';
import { run, runOk } from '../helpers/run.js';
import { BIN, IFACE, startService } from './fixture.js';

let bus: PrivateBus;

before(async () => {
  bus = await startBus();
});
after(async () => {
  await bus?.stop();
});

test('option parsing follows the reference', () => {
  assert.equal(parseArgs([], true).bus, 'system');
  // --caller-identity is off unless asked for, so the drop-in behaviour is unchanged.
  assert.equal(parseArgs([], true).callerIdentity, false);
  assert.equal(parseArgs(['--caller-identity'], true).callerIdentity, true);
  assert.equal(parseArgs([], false).bus, 'session');
  assert.equal(parseArgs(['--system'], false).bus, 'system');
  assert.equal(parseArgs(['--session'], true).bus, 'session');
  assert.equal(parseArgs(['-t', '8'], false).threads, 8);
  assert.equal(parseArgs(['--threads=2'], false).threads, 2);
  assert.equal(parseArgs(['-h'], false).help, true);
  assert.throws(() => parseArgs(['--system', '--session'], false), UsageError);
  assert.throws(() => parseArgs(['--threads', 'x'], false), UsageError);
  assert.throws(() => parseArgs(['--bogus'], false), UsageError);
  assert.throws(() => parseArgs(['--connect', 'no-equals'], false), UsageError);
  assert.throws(() => parseArgs(['--connect', 'a/b=test:///default'], false), UsageError);
  const o = parseArgs(['--connect', 'Test=test+unix:///default?socket=/x', '--connect=Mine=qemu:///system'], false);
  assert.deepEqual(o.connects, [
    { name: 'Test', uri: 'test+unix:///default?socket=/x' },
    { name: 'Mine', uri: 'qemu:///system' },
  ]);
  // --listen alone uses no bus; with --session both.
  assert.equal(parseArgs(['--listen', 'unix:tmpdir=/tmp'], true).bus, 'none');
  assert.equal(parseArgs(['--listen', 'unix:tmpdir=/tmp', '--session'], true).bus, 'session');
});

test('default Connect objects, and --connect replacing or adding', () => {
  assert.deepEqual(
    defaultConnects('session').map((c) => `${c.name}=${c.uri}`),
    [
      'QEMU=qemu:///session',
      'Test=test:///default',
      'UML=uml:///session',
      'VBox=vbox:///session',
      'VMwareFusion=vmwarefusion:///session',
      'VMwarePlayer=vmwareplayer:///session',
      'VMwareWS=vmwarews:///session',
    ],
  );
  assert.deepEqual(
    defaultConnects('system').map((c) => c.name),
    ['BHyve', 'LXC', 'OpenVZ', 'QEMU', 'Test', 'UML', 'VBox', 'VZ', 'Xen'],
  );
  assert.equal(defaultConnects('system').find((c) => c.name === 'QEMU')?.uri, 'qemu:///system');
  const merged = mergeConnects(defaultConnects('session'), [
    { name: 'Test', uri: 'test:///other' },
    { name: 'Extra', uri: 'qemu:///system' },
  ]);
  assert.equal(merged.length, 8);
  assert.equal(merged.find((c) => c.name === 'Test')?.uri, 'test:///other');
  assert.equal(merged.at(-1)?.name, 'Extra');
});

test('--help and --version', async () => {
  const help = { stdout: await runOk(BIN, ['--help']) };
  assert.match(help.stdout, /--system/);
  assert.match(help.stdout, /--connect NAME=URI/);
  const version = { stdout: await runOk(BIN, ['--version']) };
  assert.match(version.stdout, /^libvirt-dbus \d+\.\d+\.\d+\n$/);
});

/** Runs the binary expecting failure; returns its exit code and stderr. */
async function runFailing(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stderr: string }> {
  const r = await run(BIN, args, { env: { ...process.env, ...env }, timeout: 30_000 });
  assert.notEqual(r.code, 0, 'the service exited with 0');
  return { code: r.code, stderr: r.err };
}

test('a bad option, an unreachable bus: non-zero exit with one line', async () => {
  const bad = await runFailing(['--bogus'], {});
  assert.notEqual(bad.code, 0);
  assert.equal(bad.stderr.trim().split('\n').length, 1);
  const nobus = await runFailing(['--session'], { DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/bus' });
  assert.notEqual(nobus.code, 0);
  assert.equal(nobus.stderr.trim().split('\n').length, 1);
  assert.match(nobus.stderr, /session bus/);
});

test('owns org.libvirt; a second instance fails because the name is taken; SIGTERM exits 0', async () => {
  const first = await startService(bus.address, ['--session', '--connect', 'Test=test+unix:///default?socket=/nonexistent']);
  try {
    const second = await runFailing(['--session'], { DBUS_SESSION_BUS_ADDRESS: bus.address });
    assert.notEqual(second.code, 0);
    assert.equal(second.stderr.trim().split('\n').length, 1);
    assert.match(second.stderr, /org\.libvirt/);
    // A call while libvirt is unreachable fails with org.libvirt.Error, it does not hang.
    const test = await OrgLibvirt.connect(bus.address, 'Test', { bus: true });
    try {
      const err = await errorOf(test.listDomains(0), DBusError);
      assert.equal(err.errorName, 'org.libvirt.Error');
    } finally {
      test.connection.close();
    }
  } finally {
    assert.equal(await first.stop(), 0);
  }
});

test('exits non-zero when the bus goes away', async () => {
  const own = await startBus();
  const svc = await startService(own.address, ['--session']);
  await own.stop();
  const code = await new Promise<number | null>((resolve) => svc.child.once('exit', (c) => resolve(c)));
  assert.notEqual(code, 0);
  assert.match(svc.stderr(), /Disconnected from D-Bus/);
});

test('--listen serves the objects peer to peer, without a bus', async () => {
  const svc = await startService(
    undefined,
    ['--listen', 'unix:tmpdir=/tmp', '--no-default-connects', '--connect', 'Mine=test:///default'],
    false,
  );
  try {
    const address = await svc.stdoutLine();
    assert.match(address, /^unix:/);
    const conn = await DBusConnection.connect(address);
    try {
      // Raw: the introspection XML (the nodes and interfaces served) is what is checked.
      const [xml] = (await conn.call({ path: '/org/libvirt', interface: 'org.freedesktop.DBus.Introspectable', member: 'Introspect' })) as [
        string,
      ];
      assert.deepEqual(
        parseIntrospectionXml(xml).nodes.map((n) => n.name),
        ['Mine'],
      );
      const [cxml] = (await conn.call({
        path: '/org/libvirt/Mine',
        interface: 'org.freedesktop.DBus.Introspectable',
        member: 'Introspect',
      })) as [string];
      assert.ok(parseIntrospectionXml(cxml).interfaces.some((i) => i.name === IFACE.Connect));
    } finally {
      conn.close();
    }
  } finally {
    assert.equal(await svc.stop(), 0);
  }
});

test('--listen on an abstract socket: gdbus call --address answers; a peer of another uid is refused', async () => {
  const name = `libvirt-dbus-test-${process.pid}`;
  const svc = await startService(
    undefined,
    ['--listen', `unix:abstract=${name}`, '--no-default-connects', '--connect', 'Mine=test:///default'],
    false,
  );
  try {
    const address = await svc.stdoutLine();
    assert.match(address, new RegExp(`^unix:abstract=${name},guid=[0-9a-f]{32}$`));
    const args = [
      'call',
      '--address',
      address,
      '--dest',
      'org.libvirt',
      '--object-path',
      '/org/libvirt/Mine',
      '--method',
      'org.freedesktop.DBus.Introspectable.Introspect',
    ];
    const stdout = await runOk('gdbus', args);
    assert.match(stdout, /org\.libvirt\.Connect/);
    const refused = await run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'gdbus', ...args]);
    assert.notEqual(refused.code, 0);
    assert.match(refused.err, /authentication/i);
  } finally {
    assert.equal(await svc.stop(), 0);
  }
});

test('bin/libvirt-dbus runs node from its start-up snapshot with its flags, two malloc arenas, and no NODE_EXTRA_CA_CERTS', async () => {
  const saved = process.env.NODE_EXTRA_CA_CERTS;
  // A caller's CA bundle (it costs node ~100 ms at every start) must not reach the service.
  process.env.NODE_EXTRA_CA_CERTS = '/etc/ssl/certs/ca-certificates.crt';
  let svc: Awaited<ReturnType<typeof startService>>;
  try {
    svc = await startService(bus.address, ['--session', '--connect', 'Test=test+unix:///default?socket=/nonexistent']);
  } finally {
    if (saved === undefined) delete process.env.NODE_EXTRA_CA_CERTS;
    else process.env.NODE_EXTRA_CA_CERTS = saved;
  }
  try {
    // The wrapper execs node: the spawned pid is node itself.
    const pid = svc.child.pid as number;
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    for (const flag of ['--max-semi-space-size=2', '--heap-growing-percent=50', '--expose-gc'])
      assert.ok(argv.includes(flag), `${flag} in ${argv.join(' ')}`);
    assert.match(
      argv[argv.indexOf('--snapshot-blob') + 1] ?? '',
      /libvirt-dbus-v[\d.]+\.blob$/,
      'the snapshot (stale after a bare tsc: npm run build)',
    );
    const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
    assert.ok(environ.includes('MALLOC_ARENA_MAX=2'));
    assert.equal(environ.filter((e) => e.startsWith('NODE_EXTRA_CA_CERTS=')).length, 0);
  } finally {
    assert.equal(await svc.stop(), 0);
  }
});
