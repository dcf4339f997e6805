// Package guest is the fake clouds' real runtime: a fakecloud.Runtime
// whose machines are guests, real Debian 12 systems booted by the real
// cloud-init from the user-data their cloud's API received, so that the
// SlipStream agent bootstraps itself over the network exactly as on a
// real cloud, all on one test machine and offline.
//
// # Images
//
// BaseImage builds (once per machine, cached outside the repository) a
// Debian 12 root file system with debootstrap and cloud-init, configured
// for guests (see cloudConfig: the NoCloud datasource only, no network
// configuration, none of the modules that would act on the machine
// underneath). An image is a list of folders, its layers; a snapshot of a
// guest adds the guest's changes as a new layer on top.
//
// # Guests
//
// Each guest runs in network, UTS, mount, PID and IPC namespaces of its
// own:
//
//	root      an overlay: the image's layers, read-only and shared by every
//	          guest, under an upper folder of the guest's own (its "disk")
//	/proc     its own; /proc/sys read-only
//	/sys      read-only
//	/dev      null, zero, full, random, urandom, tty, pts, shm — no disk
//	/run,/tmp tmpfs
//	network   eth0 with an address on the runtime's bridge (internal/nshost
//	          Network), default route via the gateway, the bridge's address
//	          on this machine, where a test's coordinator listens
//	hostname  the BootSpec's, in the guest's UTS namespace only
//
// Its PID 1 is this package's own init (pid1.go: the program that booted
// it, started again in the new namespaces), which mounts the root,
// pivots into it, writes /etc/hostname, /etc/hosts, /etc/resolv.conf and
// the NoCloud seed (meta-data with the instance id, hostname and keys;
// the user-data as given), drops the capabilities that reach the machine
// (clock, modules, kernel log, raw I/O, device nodes), runs cloud-init's
// four stages one after the other, and then reaps orphans, so that a
// daemon started by the user-data with setsid lives on. There is no
// systemd: /run/systemd/system does not exist. Everything a guest writes
// lands in its upper folder or its tmpfs; cloud-init's hostname change
// stays in its UTS namespace.
//
// In the light mode (Options.UserDataOnly) PID 1 runs a #! user-data with
// its interpreter instead of cloud-init: same namespaces and root, boots
// in tens of milliseconds rather than 1.5 s of Python.
//
// Stop kills PID 1 (so every process of the guest: the PID namespace ends
// with it, and with its processes the mount namespace and the overlay),
// keeping the upper folder and the address; Start boots again from them
// (cloud-init sees the same instance id and runs only its per-boot
// modules); Snapshot copies the upper folder, whiteouts and overlay
// attributes included; Destroy removes the namespace, veth and folders.
//
// # Use
//
// A fake cloud whose machines are guests (a test's TestMain should call
// CleanupStale first, for the runtimes of killed runs):
//
//	image, err := guest.BaseImage(ctx, guest.ImageOptions{Log: t.Logf})
//	rt, err := guest.New(ctx, guest.Options{})
//	defer rt.Close()
//	cloud, err := fakecloud.New(fakecloud.Options{Runtime: rt})
//	cloud.AddImage(fakecloud.Image{ID: "debian-12", Layers: []string{image}})
//	// The coordinator listens on rt.GatewayIP(); machines' user-data reach it.
//
// Runtime.Instance(machineID) then gives a machine's guest: its console
// log, its upper folder, a command run inside it, WaitBooted, Usage.
//
// # No trace
//
// Guests write only into the runtime's state folder; the image only into
// its cache. A runtime is an nshost Network, registered machine-wide: when
// a test process is killed, its guests run on until CleanupStale (with the
// runtime's prefix) kills them and removes their namespaces, veths,
// bridge and state folder; runtimes of live processes are left alone.
//
// Everything needs root (namespaces, overlays, bridges), iproute2,
// util-linux, and for the first image build debootstrap and Debian's
// mirror; Available says what is missing.
package guest
