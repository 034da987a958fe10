package spec

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/llm-platform/llm-platform/components/model"
)

// validateObjectSources checks the models' object-storage sources: weights.uri and the s3:// or
// gs:// adapter sources. Each must be a valid s3:// or gs:// location on the cloud that can
// grant the model read access to it: EKS Pod Identity reads S3, GKE Workload Identity reads
// Cloud Storage. On an existing cluster the platform grants nothing, so the model names a
// ServiceAccount the user already gave access (weights.serviceAccount).
func validateObjectSources(p *problems, cfg *Config) {
	for i := range cfg.Models {
		m := &cfg.Models[i]
		at := func(key string) string { return fmt.Sprintf("models[%d].%s", i, key) }
		// The first key that makes the model read object storage, for the errors about access.
		reader := ""
		if uri := m.Weights.URI; uri != "" {
			if m.GPURequestCount == 0 {
				p.add(at("weights.uri"), "streams with the Run:ai Model Streamer, which only the GPU image has (the CPU image lacks its libraries); use huggingfaceId for a CPU model")
			}
			if u, err := model.ParseObjectURI(uri); err != nil {
				p.add(at("weights.uri"), "%v", err)
			} else {
				checkObjectCloud(p, cfg.Cloud, at("weights.uri"), u)
			}
			reader = at("weights.uri")
			for j, arg := range m.ExtraArgs {
				if flag, _, _ := strings.Cut(arg, "="); strings.ReplaceAll(flag, "_", "-") == "--load-format" {
					p.add(fmt.Sprintf("models[%d].extraArgs[%d]", i, j), "%q conflicts with %s, which streams the weights with --load-format runai_streamer; remove it", arg, at("weights.uri"))
				}
			}
		}
		for j, l := range m.LoRAs {
			if !model.IsObjectURI(l.Source) {
				continue
			}
			key := fmt.Sprintf("models[%d].loras[%d].source", i, j)
			// A malformed source is reported with the other adapter checks (lifecycle.go).
			if u, err := model.ParseObjectURI(l.Source); err == nil {
				checkObjectCloud(p, cfg.Cloud, key, u)
			}
			if reader == "" {
				reader = key
			}
		}
		sa := m.Weights.ServiceAccount
		switch {
		case sa != "" && cfg.Cloud != CloudExisting:
			p.add(at("weights.serviceAccount"), "is only for cloud \"existing\": on %s the platform creates the model's ServiceAccount and its read access; remove it", cfg.Cloud)
		case sa != "" && reader == "":
			p.add(at("weights.serviceAccount"), "is set but the model reads no s3:// or gs:// source; remove it, or set %s", at("weights.uri"))
		case sa != "":
			if errs := validation.IsDNS1123Subdomain(sa); len(errs) > 0 {
				p.add(at("weights.serviceAccount"), "%q is not a ServiceAccount name (%s)", sa, strings.Join(errs, "; "))
			}
		case reader != "" && cfg.Cloud == CloudExisting:
			p.add(reader, "on cloud \"existing\" the platform cannot grant the model read access to object storage; "+
				"give a ServiceAccount in namespace %q read access yourself (IRSA, EKS Pod Identity or GKE Workload Identity) and name it in %s, "+
				"or use cloud eks (s3://) or gke (gs://), where the platform creates it", cfg.Namespace, at("weights.serviceAccount"))
		}
	}
}

// checkObjectCloud: the platform grants S3 access on EKS and Cloud Storage access on GKE only.
func checkObjectCloud(p *problems, cloud, key string, u model.ObjectURI) {
	switch {
	case u.Scheme == model.SchemeS3 && cloud == CloudGKE:
		p.add(key, "%q is in Amazon S3, but on cloud gke the platform grants pods read access to Cloud Storage only (Workload Identity); copy it to a gs:// bucket", u.String())
	case u.Scheme == model.SchemeGS && cloud == CloudEKS:
		p.add(key, "%q is in Cloud Storage, but on cloud eks the platform grants pods read access to Amazon S3 only (Pod Identity); copy it to an s3:// bucket", u.String())
	}
}
