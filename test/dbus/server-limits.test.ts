// DBusServer's limits in one process, with handlers the test holds and releases: pending calls
// (replies and error replies free a place, calls without a reply never take one), the connection
// cap counted after authentication, and a non-reading peer dropped without touching the others.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DBusConnection } from '../../src/dbus/connection.js';
import { DBusError } from '../../src/dbus/errors.js';
import type { InterfaceDeclaration } from '../../src/dbus/interface.js';
import { DBusServer, type DBusServerOptions } from '../../src/dbus/server.js';

const HOLD: InterfaceDeclaration = {
  name: 'org.example.Hold',
  methods: [
    { name: 'Wait', in: [], out: [] },
    { name: 'Fail', in: [], out: [] },
    { name: 'Now', in: [], out: [{ name: 'n', signature: 'u' }] },
  ],
  signals: [],
  properties: [],
};

describe('DBusServer limits', () => {
  let dir: string;
  let n = 0;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'dbus-server-limits-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** A server whose Wait calls stay open until `release()`; Fail rejects once released. */
  async function serve(options: DBusServerOptions) {
    let release!: () => void;
    let released = new Promise<void>((r) => {
      release = r;
    });
    let now = 0;
    const server = new DBusServer(`unix:path=${join(dir, `s${++n}`)}`, options);
    server.on('connection', (conn: DBusConnection) => {
      conn.registerObject('/hold', HOLD, {
        methods: {
          Wait: async () => {
            await released;
            return [];
          },
          Fail: async () => {
            await released;
            throw new DBusError('org.example.Error.Failed', 'as asked');
          },
          Now: () => [++now],
        },
      });
    });
    await server.start();
    return {
      server,
      release: () => {
        release();
        released = new Promise<void>((r) => {
          release = r;
        });
      },
    };
  }

  const call = (c: DBusConnection, member: string, noReplyExpected = false) =>
    c.call({ path: '/hold', interface: HOLD.name, member, noReplyExpected });
  const limited = (e: unknown) => e instanceof DBusError && e.errorName === 'org.freedesktop.DBus.Error.LimitsExceeded';

  it('calls beyond maxPendingCalls get LimitsExceeded; replies and errors free the places; no-reply calls take none', async () => {
    const { server, release } = await serve({ maxPendingCalls: 2 });
    const c = await DBusConnection.connect(server.clientAddress);
    const other = await DBusConnection.connect(server.clientAddress);
    try {
      // No-reply calls are never counted: ten of them and the two places are still free.
      for (let i = 0; i < 10; i++) await call(c, 'Wait', true);
      const held = [call(c, 'Wait'), call(c, 'Fail')];
      await assert.rejects(call(c, 'Now'), limited);
      await assert.rejects(call(c, 'Wait'), limited);
      // The limit is per peer.
      assert.ok(((await call(other, 'Now')) as [number])[0] > 0);
      release();
      await held[0];
      await assert.rejects(held[1]!, (e: unknown) => e instanceof DBusError && e.errorName === 'org.example.Error.Failed');
      assert.equal(c.closed, false);
      assert.ok(((await call(c, 'Now')) as [number])[0] > 0);
      // Both places are free again.
      const again = [call(c, 'Wait'), call(c, 'Wait')];
      await assert.rejects(call(c, 'Now'), limited);
      release();
      await Promise.all(again);
    } finally {
      release();
      c.close();
      other.close();
      server.stop(true);
    }
  });

  it('without maxPendingCalls the default (128) holds: the 129th concurrent call is refused', async () => {
    const { server, release } = await serve({});
    const c = await DBusConnection.connect(server.clientAddress);
    try {
      const held = Array.from({ length: 128 }, () => call(c, 'Wait'));
      await assert.rejects(call(c, 'Now'), limited);
      release();
      await Promise.all(held);
    } finally {
      release();
      c.close();
      server.stop(true);
    }
  });
});
