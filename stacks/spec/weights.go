package spec

import (
	"fmt"

	"github.com/llm-platform/llm-platform/components/model"
)

// validateObjectSources checks the models' object-storage sources (weights.uri and the s3:// or
// gs:// adapter sources) against the cloud, which must be able to grant the model read access:
// EKS Pod Identity reads S3, GKE Workload Identity reads Cloud Storage. On an existing cluster
// the platform grants nothing, so the model names a ServiceAccount the user already gave
// access (weights.serviceAccount). A malformed source, and the rules of one model's own
// settings, are model.Spec.Validate's.
func validateObjectSources(p *problems, cfg *Config) {
	for i := range cfg.Models {
		m := &cfg.Models[i]
		at := func(key string) string { return fmt.Sprintf("models[%d].%s", i, key) }
		// The first key that makes the model read object storage, for the errors about access.
		reader := ""
		if m.Weights.URI != "" {
			reader = at("weights.uri")
			if u, err := model.ParseObjectURI(m.Weights.URI); err == nil {
				checkObjectCloud(p, cfg.Cloud, reader, u)
			}
		}
		for j, l := range m.LoRAs {
			if !model.IsObjectURI(l.Source) {
				continue
			}
			key := fmt.Sprintf("models[%d].loras[%d].source", i, j)
			if u, err := model.ParseObjectURI(l.Source); err == nil {
				checkObjectCloud(p, cfg.Cloud, key, u)
			}
			if reader == "" {
				reader = key
			}
		}
		switch sa := m.Weights.ServiceAccount; {
		case sa != "" && cfg.Cloud != CloudExisting:
			p.add(at("weights.serviceAccount"), "is only for cloud \"existing\": on %s the platform creates the model's ServiceAccount and its read access; remove it", cfg.Cloud)
		case sa == "" && reader != "" && cfg.Cloud == CloudExisting:
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
