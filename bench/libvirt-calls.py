# python3-libvirt side of bench/libvirt-calls.ts: one connection shared by N threads, each making
# calls of one kind back to back for a fixed time. Prints one JSON line: calls, wall and CPU seconds.
import json
import resource
import sys
import threading
import time

import libvirt


def main():
    uri, op, threads, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    conn = libvirt.open(uri)
    dom = conn.lookupByName('test')
    calls = {
        'connectListAllDomains': lambda: conn.listAllDomains(0),
        'domainGetXMLDesc': lambda: dom.XMLDesc(0),
        'connectGetHostname': lambda: conn.getHostname(),
    }[op]
    warm = time.perf_counter() + 0.3  # warm-up, like the TypeScript side
    while time.perf_counter() < warm:
        calls()
    counts = [0] * threads
    stop = threading.Event()

    def worker(i):
        n = 0
        while not stop.is_set():
            calls()
            n += 1
        counts[i] = n

    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    ts = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in ts:
        t.join()
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    conn.close()
    print(json.dumps({'calls': sum(counts), 'wall': wall, 'cpu': cpu}))


main()
