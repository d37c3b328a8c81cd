#!/bin/bash
# Proxmox VE hookscript: before a VM starts, bind the devices its state file declares (vfio-reconcile
# apply); after it stops, give every device that apply changed back to the kernel's default driver.
#
# Install once, then per VM:
#   install -m 0755 vfio-reconcile-hook.sh /var/lib/vz/snippets/
#   qm set 101 --hookscript local:snippets/vfio-reconcile-hook.sh
#   $EDITOR /etc/vfio-reconcile/vm/101.yaml        # the rules for VM 101's devices
#
# pre-start: applies /etc/vfio-reconcile/vm/<vmid>.yaml, with a state dir of the VM's own
#   (/var/lib/vfio-reconcile/vm/<vmid>) that records which devices it changed. If the apply fails
#   or is refused (a device in use by the host, a rule matching the wrong number of devices), the
#   hook exits non-zero and Proxmox does not start the VM; the devices are as they were before.
#   A VM without a state file is left to Proxmox.
# post-stop: applies an empty state with the same state dir: the devices the pre-start apply
#   changed, and only those, are pruned back to `default` (override cleared, host driver probed).
#   Devices bound by another VM or by the host's own state are not in that record and stay put.
#   A failure is reported in the task log; the VM is already stopped, so it changes nothing else.
#
# Proxmox itself binds hostpci devices to vfio-pci when a VM starts; what this adds is the rest of
# the state file (the IOMMU group's other functions, SR-IOV VF counts, driver_override so nothing
# rebinds them, the in-use guards, a rollback when a step fails) and handing the devices back.
set -euo pipefail

vmid=${1:?usage: $0 VMID PHASE}
phase=${2:?usage: $0 VMID PHASE}
tool=${VFIO_RECONCILE:-vfio-reconcile}
state=${VFIO_RECONCILE_VM_STATES:-/etc/vfio-reconcile/vm}/$vmid.yaml
record=${VFIO_RECONCILE_VM_RECORDS:-/var/lib/vfio-reconcile/vm}/$vmid

case $phase in
  pre-start)
    if [[ ! -f $state ]]; then
      echo "vfio-reconcile: no $state, leaving VM $vmid's devices to Proxmox"
      exit 0
    fi
    echo "vfio-reconcile: binding the devices of VM $vmid ($state)"
    mkdir -p "$record"
    exec "$tool" apply "$state" --state-dir "$record" --no-color
    ;;
  post-stop)
    if [[ ! -d $record ]]; then
      exit 0
    fi
    echo "vfio-reconcile: giving VM $vmid's devices back to their host drivers"
    empty=$(mktemp --suffix=.yaml)
    trap 'rm -f "$empty"' EXIT
    printf 'version: 1\ndevices: []\n' >"$empty"
    if ! "$tool" apply "$empty" --state-dir "$record" --no-color; then
      echo "vfio-reconcile: could not give every device of VM $vmid back; see above" >&2
      exit 1
    fi
    ;;
  post-start | pre-stop) ;;
  *)
    echo "vfio-reconcile: unknown phase $phase" >&2
    exit 1
    ;;
esac
