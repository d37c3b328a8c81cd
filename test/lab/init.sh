#!/bin/busybox sh
# /init of the lab's initramfs. Mounts the host's root read-only over 9p under a RAM overlay (so
# the guest can write anywhere, /tmp and /var/lib included, without a byte reaching the host; and
# a checkout under the host's /tmp stays visible, which a tmpfs on /tmp would hide), gives it the
# guest kernel's module tree as /lib/modules, loads the device drivers (not vfio-pci: the tool
# under test must load that), runs the job script named by `vrlab_job=` and powers off.
# Kernel parameters without a dot reach init as environment: vrlab_job, vrlab_tree.

/bin/busybox mkdir -p /bin /proc /sys /dev
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
# The initramfs has no /dev/console node, so init started without stdio.
exec </dev/console >/dev/console 2>&1

fail() {
  echo "LABINIT FAIL $*"
  poweroff -f
}

echo "LABINIT start $(cat /proc/uptime)"
while read -r m; do
  insmod "/modules/$m" || fail "insmod $m"
done </modules/load

mkdir -p /lower /upper /root
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144,cache=loose hostroot /lower || fail "mount 9p hostroot"
mount -t tmpfs -o size=512m tmpfs /upper
mkdir -p /upper/data /upper/work
mount -t overlay -o lowerdir=/lower,upperdir=/upper/data,workdir=/upper/work overlay /root || fail "mount overlay"
R=/root
mount -t proc proc $R/proc
mount -t sysfs sysfs $R/sys
mount -t devtmpfs devtmpfs $R/dev
# Keep the share that carries the root visible from inside, as a real host's root mount would be.
mkdir -p $R/run/vrlab/hostroot
mount --bind /lower $R/run/vrlab/hostroot
release=$(uname -r)
mkdir -p $R/lib/modules
ln -sfn "$vrlab_tree/lib/modules/$release" "$R/lib/modules/$release"
hostname vrlab

chroot $R /sbin/modprobe -a e1000e e1000 nvme pci-stub pcspkr || fail "modprobe device drivers"
# Kernel messages would interleave with the result lines on the serial console.
echo 1 >/proc/sys/kernel/printk
echo "LABINIT ready $(cat /proc/uptime)"

env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin TERM=dumb VRLAB=1 \
  chroot $R /bin/sh "$vrlab_job"
echo "LABEXIT $?"
poweroff -f
