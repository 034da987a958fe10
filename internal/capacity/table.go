package capacity

// table holds the node types the stacks support: GKE's general-purpose machines for the system
// pool and the GPU machine types per accelerator, EKS's general-purpose and GPU instances. A
// type not listed here is not refused: the config check warns that it cannot judge it.
var table = []NodeType{
	// GKE general purpose (system pool).
	{Name: "e2-standard-2", Cloud: GKE, VCPUs: 2, MemoryGiB: 8},
	{Name: "e2-standard-4", Cloud: GKE, VCPUs: 4, MemoryGiB: 16},
	{Name: "e2-standard-8", Cloud: GKE, VCPUs: 8, MemoryGiB: 32},
	{Name: "e2-standard-16", Cloud: GKE, VCPUs: 16, MemoryGiB: 64},
	{Name: "n2-standard-2", Cloud: GKE, VCPUs: 2, MemoryGiB: 8},
	{Name: "n2-standard-4", Cloud: GKE, VCPUs: 4, MemoryGiB: 16},
	{Name: "n2-standard-8", Cloud: GKE, VCPUs: 8, MemoryGiB: 32},
	{Name: "n2-standard-16", Cloud: GKE, VCPUs: 16, MemoryGiB: 64},
	// N1 with attached GPUs (T4, V100, P4, P100: 1, 2 or 4 per VM).
	{Name: "n1-standard-4", Cloud: GKE, VCPUs: 4, MemoryGiB: 15, AttachableGPUs: n1GPUs},
	{Name: "n1-standard-8", Cloud: GKE, VCPUs: 8, MemoryGiB: 30, AttachableGPUs: n1GPUs},
	{Name: "n1-standard-16", Cloud: GKE, VCPUs: 16, MemoryGiB: 60, AttachableGPUs: n1GPUs},
	{Name: "n1-standard-32", Cloud: GKE, VCPUs: 32, MemoryGiB: 120, AttachableGPUs: n1GPUs},
	// G2: NVIDIA L4.
	{Name: "g2-standard-4", Cloud: GKE, VCPUs: 4, MemoryGiB: 16, GPUs: 1, Accelerator: "nvidia-l4"},
	{Name: "g2-standard-8", Cloud: GKE, VCPUs: 8, MemoryGiB: 32, GPUs: 1, Accelerator: "nvidia-l4"},
	{Name: "g2-standard-12", Cloud: GKE, VCPUs: 12, MemoryGiB: 48, GPUs: 1, Accelerator: "nvidia-l4"},
	{Name: "g2-standard-16", Cloud: GKE, VCPUs: 16, MemoryGiB: 64, GPUs: 1, Accelerator: "nvidia-l4"},
	{Name: "g2-standard-24", Cloud: GKE, VCPUs: 24, MemoryGiB: 96, GPUs: 2, Accelerator: "nvidia-l4"},
	{Name: "g2-standard-32", Cloud: GKE, VCPUs: 32, MemoryGiB: 128, GPUs: 1, Accelerator: "nvidia-l4"},
	{Name: "g2-standard-48", Cloud: GKE, VCPUs: 48, MemoryGiB: 192, GPUs: 4, Accelerator: "nvidia-l4"},
	{Name: "g2-standard-96", Cloud: GKE, VCPUs: 96, MemoryGiB: 384, GPUs: 8, Accelerator: "nvidia-l4"},
	// A2 High: A100 40GB; A2 Ultra: A100 80GB.
	{Name: "a2-highgpu-1g", Cloud: GKE, VCPUs: 12, MemoryGiB: 85, GPUs: 1, Accelerator: "nvidia-tesla-a100"},
	{Name: "a2-highgpu-2g", Cloud: GKE, VCPUs: 24, MemoryGiB: 170, GPUs: 2, Accelerator: "nvidia-tesla-a100"},
	{Name: "a2-highgpu-4g", Cloud: GKE, VCPUs: 48, MemoryGiB: 340, GPUs: 4, Accelerator: "nvidia-tesla-a100"},
	{Name: "a2-highgpu-8g", Cloud: GKE, VCPUs: 96, MemoryGiB: 680, GPUs: 8, Accelerator: "nvidia-tesla-a100"},
	{Name: "a2-megagpu-16g", Cloud: GKE, VCPUs: 96, MemoryGiB: 1360, GPUs: 16, Accelerator: "nvidia-tesla-a100"},
	{Name: "a2-ultragpu-1g", Cloud: GKE, VCPUs: 12, MemoryGiB: 170, GPUs: 1, Accelerator: "nvidia-a100-80gb"},
	{Name: "a2-ultragpu-2g", Cloud: GKE, VCPUs: 24, MemoryGiB: 340, GPUs: 2, Accelerator: "nvidia-a100-80gb"},
	{Name: "a2-ultragpu-4g", Cloud: GKE, VCPUs: 48, MemoryGiB: 680, GPUs: 4, Accelerator: "nvidia-a100-80gb"},
	{Name: "a2-ultragpu-8g", Cloud: GKE, VCPUs: 96, MemoryGiB: 1360, GPUs: 8, Accelerator: "nvidia-a100-80gb"},
	// A3: H100 80GB (High, Mega), H200 (Ultra); A4: B200; G4: RTX PRO 6000.
	{Name: "a3-highgpu-1g", Cloud: GKE, VCPUs: 26, MemoryGiB: 234, GPUs: 1, Accelerator: "nvidia-h100-80gb"},
	{Name: "a3-highgpu-2g", Cloud: GKE, VCPUs: 52, MemoryGiB: 468, GPUs: 2, Accelerator: "nvidia-h100-80gb"},
	{Name: "a3-highgpu-4g", Cloud: GKE, VCPUs: 104, MemoryGiB: 936, GPUs: 4, Accelerator: "nvidia-h100-80gb"},
	{Name: "a3-highgpu-8g", Cloud: GKE, VCPUs: 208, MemoryGiB: 1872, GPUs: 8, Accelerator: "nvidia-h100-80gb"},
	{Name: "a3-megagpu-8g", Cloud: GKE, VCPUs: 208, MemoryGiB: 1872, GPUs: 8, Accelerator: "nvidia-h100-mega-80gb"},
	{Name: "a3-ultragpu-8g", Cloud: GKE, VCPUs: 224, MemoryGiB: 2952, GPUs: 8, Accelerator: "nvidia-h200-141gb", HyperdiskOnly: true},
	{Name: "a4-highgpu-8g", Cloud: GKE, VCPUs: 224, MemoryGiB: 3968, GPUs: 8, Accelerator: "nvidia-b200", HyperdiskOnly: true},
	{Name: "g4-standard-48", Cloud: GKE, VCPUs: 48, MemoryGiB: 180, GPUs: 1, Accelerator: "nvidia-rtx-pro-6000", HyperdiskOnly: true},
	{Name: "g4-standard-96", Cloud: GKE, VCPUs: 96, MemoryGiB: 360, GPUs: 2, Accelerator: "nvidia-rtx-pro-6000", HyperdiskOnly: true},
	{Name: "g4-standard-192", Cloud: GKE, VCPUs: 192, MemoryGiB: 720, GPUs: 4, Accelerator: "nvidia-rtx-pro-6000", HyperdiskOnly: true},
	{Name: "g4-standard-384", Cloud: GKE, VCPUs: 384, MemoryGiB: 1440, GPUs: 8, Accelerator: "nvidia-rtx-pro-6000", HyperdiskOnly: true},

	// EKS general purpose (system node group).
	{Name: "m5.large", Cloud: EKS, VCPUs: 2, MemoryGiB: 8, ENIMaxPods: 29},
	{Name: "m5.xlarge", Cloud: EKS, VCPUs: 4, MemoryGiB: 16, ENIMaxPods: 58},
	{Name: "m5.2xlarge", Cloud: EKS, VCPUs: 8, MemoryGiB: 32, ENIMaxPods: 58},
	{Name: "m6i.large", Cloud: EKS, VCPUs: 2, MemoryGiB: 8, ENIMaxPods: 29},
	{Name: "m6i.xlarge", Cloud: EKS, VCPUs: 4, MemoryGiB: 16, ENIMaxPods: 58},
	{Name: "m6i.2xlarge", Cloud: EKS, VCPUs: 8, MemoryGiB: 32, ENIMaxPods: 58},
	{Name: "m6i.4xlarge", Cloud: EKS, VCPUs: 16, MemoryGiB: 64, ENIMaxPods: 234},
	{Name: "m7i.large", Cloud: EKS, VCPUs: 2, MemoryGiB: 8, ENIMaxPods: 29},
	{Name: "m7i.xlarge", Cloud: EKS, VCPUs: 4, MemoryGiB: 16, ENIMaxPods: 58},
	{Name: "m7i.2xlarge", Cloud: EKS, VCPUs: 8, MemoryGiB: 32, ENIMaxPods: 58},
	// G5: A10G; G6: L4; G6e: L40S; P4d: A100 40GB; P5: H100.
	{Name: "g5.xlarge", Cloud: EKS, VCPUs: 4, MemoryGiB: 16, GPUs: 1, Accelerator: "A10G", ENIMaxPods: 58},
	{Name: "g5.2xlarge", Cloud: EKS, VCPUs: 8, MemoryGiB: 32, GPUs: 1, Accelerator: "A10G", ENIMaxPods: 58},
	{Name: "g5.4xlarge", Cloud: EKS, VCPUs: 16, MemoryGiB: 64, GPUs: 1, Accelerator: "A10G", ENIMaxPods: 234},
	{Name: "g5.8xlarge", Cloud: EKS, VCPUs: 32, MemoryGiB: 128, GPUs: 1, Accelerator: "A10G", ENIMaxPods: 234},
	{Name: "g5.12xlarge", Cloud: EKS, VCPUs: 48, MemoryGiB: 192, GPUs: 4, Accelerator: "A10G", ENIMaxPods: 737},
	{Name: "g5.24xlarge", Cloud: EKS, VCPUs: 96, MemoryGiB: 384, GPUs: 4, Accelerator: "A10G", ENIMaxPods: 737},
	{Name: "g5.48xlarge", Cloud: EKS, VCPUs: 192, MemoryGiB: 768, GPUs: 8, Accelerator: "A10G", ENIMaxPods: 345},
	{Name: "g6.xlarge", Cloud: EKS, VCPUs: 4, MemoryGiB: 16, GPUs: 1, Accelerator: "L4", ENIMaxPods: 58},
	{Name: "g6.2xlarge", Cloud: EKS, VCPUs: 8, MemoryGiB: 32, GPUs: 1, Accelerator: "L4", ENIMaxPods: 58},
	{Name: "g6.4xlarge", Cloud: EKS, VCPUs: 16, MemoryGiB: 64, GPUs: 1, Accelerator: "L4", ENIMaxPods: 234},
	{Name: "g6.8xlarge", Cloud: EKS, VCPUs: 32, MemoryGiB: 128, GPUs: 1, Accelerator: "L4", ENIMaxPods: 234},
	{Name: "g6.12xlarge", Cloud: EKS, VCPUs: 48, MemoryGiB: 192, GPUs: 4, Accelerator: "L4", ENIMaxPods: 234},
	{Name: "g6.24xlarge", Cloud: EKS, VCPUs: 96, MemoryGiB: 384, GPUs: 4, Accelerator: "L4", ENIMaxPods: 737},
	{Name: "g6.48xlarge", Cloud: EKS, VCPUs: 192, MemoryGiB: 768, GPUs: 8, Accelerator: "L4", ENIMaxPods: 737},
	{Name: "g6e.xlarge", Cloud: EKS, VCPUs: 4, MemoryGiB: 32, GPUs: 1, Accelerator: "L40S", ENIMaxPods: 58},
	{Name: "g6e.2xlarge", Cloud: EKS, VCPUs: 8, MemoryGiB: 64, GPUs: 1, Accelerator: "L40S", ENIMaxPods: 58},
	{Name: "g6e.4xlarge", Cloud: EKS, VCPUs: 16, MemoryGiB: 128, GPUs: 1, Accelerator: "L40S", ENIMaxPods: 234},
	{Name: "g6e.8xlarge", Cloud: EKS, VCPUs: 32, MemoryGiB: 256, GPUs: 1, Accelerator: "L40S", ENIMaxPods: 234},
	{Name: "g6e.12xlarge", Cloud: EKS, VCPUs: 48, MemoryGiB: 384, GPUs: 4, Accelerator: "L40S", ENIMaxPods: 234},
	{Name: "g6e.24xlarge", Cloud: EKS, VCPUs: 96, MemoryGiB: 768, GPUs: 4, Accelerator: "L40S", ENIMaxPods: 737},
	{Name: "g6e.48xlarge", Cloud: EKS, VCPUs: 192, MemoryGiB: 1536, GPUs: 8, Accelerator: "L40S", ENIMaxPods: 737},
	{Name: "p4d.24xlarge", Cloud: EKS, VCPUs: 96, MemoryGiB: 1152, GPUs: 8, Accelerator: "A100", ENIMaxPods: 737},
	{Name: "p5.48xlarge", Cloud: EKS, VCPUs: 192, MemoryGiB: 2048, GPUs: 8, Accelerator: "H100", ENIMaxPods: 100},
}

// n1GPUs are the accelerators an N1 machine can attach.
var n1GPUs = []string{"nvidia-tesla-t4", "nvidia-tesla-v100", "nvidia-tesla-p4", "nvidia-tesla-p100"}
