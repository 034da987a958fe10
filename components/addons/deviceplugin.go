package addons

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/llm-platform/llm-platform/internal/versions"
)

type devicePluginValues struct {
	NodeSelector map[string]string `json:"nodeSelector"`
	Tolerations  []toleration      `json:"tolerations"`
}

type toleration struct {
	Key      string `json:"key"`
	Operator string `json:"operator"`
	Effect   string `json:"effect"`
}

func devicePlugin(ctx *pulumi.Context, name string, nodeSelector map[string]string, parent pulumi.ResourceOption) error {
	v := devicePluginValues{
		NodeSelector: nodeSelector,
		Tolerations:  []toleration{{Key: "nvidia.com/gpu", Operator: "Exists", Effect: "NoSchedule"}},
	}
	_, err := release(ctx, "nvidia-device-plugin", versions.NVIDIADevicePlugin, DevicePluginNS, v, parent)
	return err
}
