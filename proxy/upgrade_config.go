package proxy

import (
	"strings"

	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
)

// The HTTP connection manager's upgrade_configs, in the one shape Istio emits for sidecars
// and gateways: [{upgrade_type: "websocket"}]. Only WebSocket is tunnelled (upgrade.go);
// CONNECT and other upgrade types, and per-upgrade filter chains, are refused rather than
// ignored, since a proxy that ignored them would answer those requests differently from Envoy.

// webSocketUpgradeType is the upgrade_type, and the Upgrade header value, of WebSocket.
const webSocketUpgradeType = "websocket"

// decodeUpgradeConfigs reports whether the configs at p enable WebSocket upgrades. Envoy
// compares upgrade types case-insensitively, enables each by default, and refuses a type
// configured twice.
func decodeUpgradeConfigs(p fieldPath, configs []*hcmv3.HttpConnectionManager_UpgradeConfig) (bool, error) {
	enabled, seen := false, false
	for i, uc := range configs {
		up := p.index(i)
		if err := onlyFields(up, uc, "upgrade_type", "enabled"); err != nil {
			return false, err
		}
		if !strings.EqualFold(uc.GetUpgradeType(), webSocketUpgradeType) {
			return false, up.field("upgrade_type").errorf("upgrade type %q is not supported: only %q is", uc.GetUpgradeType(), webSocketUpgradeType)
		}
		if seen {
			return false, up.field("upgrade_type").errorf("upgrade type %q is configured twice", uc.GetUpgradeType())
		}
		seen = true
		enabled = uc.GetEnabled() == nil || uc.GetEnabled().GetValue()
	}
	return enabled, nil
}
