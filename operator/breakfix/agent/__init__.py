"""The node agent: a privileged DaemonSet pod on every node that changes the node's own files and
units for Node and ControlPlane labs, and always puts them back.

It keeps what it changed in a journal on the node itself, so the repair needs neither the API
server (an API-server lab), nor the kubelet (a kubelet lab), nor the operator (restarted, or gone:
every change is undone on its own after `restoreAfterSeconds`)."""
