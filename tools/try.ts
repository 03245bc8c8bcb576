// `bin/try`: the service on its embedded default, for trying it out. Starts a private dbus-daemon and
// a private libvirtd (test driver; qemu:///system of the same daemon), runs the service on that
// bus, shows it answering, prints commands to paste into another terminal, and on Ctrl-C stops
// everything it started and removes its temporary folders.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { startBus, type PrivateBus } from './sandbox/bus.js';
import { startLibvirtd, type PrivateLibvirtd } from './sandbox/libvirtd.js';

const run = promisify(execFile);
const cli = fileURLToPath(new URL('../../bin/libvirt-dbus', import.meta.url));

async function main(): Promise<void> {
  let bus: PrivateBus | undefined;
  let libvirtd: PrivateLibvirtd | undefined;
  let service: ChildProcess | undefined;
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    if (service && service.exitCode === null) {
      await new Promise<void>((r) => {
        service?.once('exit', () => r());
        service?.kill('SIGTERM');
      });
    }
    await libvirtd?.stop();
    await bus?.stop();
    console.log('\nstopped: the service, libvirtd and dbus-daemon are gone, their temporary folders removed.');
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));

  try {
    console.log('==> starting a private dbus-daemon');
    bus = await startBus();
    console.log('==> starting a private libvirtd (test driver, qemu:///system) with its own sockets and state');
    libvirtd = await startLibvirtd();
    console.log('==> starting libvirt-dbus on that bus');
    service = spawn(cli, ['--session', '--connect', `Test=${libvirtd.testUri}`, '--connect', `QEMU=${libvirtd.qemuUri}`], {
      env: { ...process.env, DBUS_SESSION_BUS_ADDRESS: bus.address },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    service.once('exit', (code) => {
      if (!stopping) {
        console.error(`libvirt-dbus exited unexpectedly (${code}); see its message above`);
        void stop(1);
      }
    });
    const gdbus = (...args: string[]) =>
      run('gdbus', ['call', '--address', bus!.address, '--dest', 'org.libvirt', ...args], { timeout: 30_000 });
    for (let i = 0; ; i++) {
      try {
        await gdbus('--object-path', '/org/libvirt/Test', '--method', 'org.freedesktop.DBus.Peer.Ping');
        break;
      } catch (e) {
        if (i > 100) throw e;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const domains = await gdbus('--object-path', '/org/libvirt/Test', '--method', 'org.libvirt.Connect.ListDomains', '0');
    const networks = await gdbus('--object-path', '/org/libvirt/Test', '--method', 'org.libvirt.Connect.ListNetworks', '0');
    const first = /'(\/org\/libvirt\/Test\/domain\/[^']+)'/.exec(domains.stdout)?.[1];
    console.log('\nlibvirt-dbus is answering on the private bus:');
    console.log(`  domains:  ${domains.stdout.trim()}`);
    console.log(`  networks: ${networks.stdout.trim()}`);
    console.log(`\nbus address: ${bus.address}\n\nIn another terminal, try:`);
    console.log(`  export DBUS_SESSION_BUS_ADDRESS='${bus.address}'`);
    console.log('  gdbus introspect --session --dest org.libvirt --object-path /org/libvirt/Test');
    console.log('  busctl --user tree org.libvirt');
    if (first) {
      console.log(
        `  gdbus call --session --dest org.libvirt --object-path ${first} --method org.freedesktop.DBus.Properties.GetAll org.libvirt.Domain`,
      );
    }
    console.log('\nPress Ctrl-C to stop.');
  } catch (e) {
    console.error(`bin/try failed: ${(e as Error).message}`);
    await stop(1);
  }
}

void main();
