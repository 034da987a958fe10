# Copies LoRA adapters from object storage onto the model's cache claim before vLLM starts
# (vLLM loads adapters only from local directories or the Hugging Face Hub).
#
# Arguments: pairs of <s3:// or gs:// URI> <local directory>. Runs in the vLLM GPU image, whose
# Run:ai Model Streamer package reads s3:// (boto3's default credential chain) and gs:// (Google
# application default credentials); pull_files copies every object under the prefix.
#
# Each adapter lands in <dir>.partial first and replaces <dir> only when complete and holding an
# adapter_config.json, so a failed copy never leaves vLLM half an adapter.
import os
import shutil
import sys

from runai_model_streamer import pull_files


def fetch(source, target):
    partial = target + ".partial"
    shutil.rmtree(partial, ignore_errors=True)
    os.makedirs(partial)
    pull_files(source.rstrip("/") + "/", partial)
    if not os.path.isfile(os.path.join(partial, "adapter_config.json")):
        raise SystemExit(
            f"fetch-loras: {source} has no adapter_config.json; point the adapter's source "
            "at the folder holding adapter_config.json and the adapter weights"
        )
    shutil.rmtree(target, ignore_errors=True)
    os.rename(partial, target)
    print(f"fetch-loras: {source} -> {target}", flush=True)


def main(argv):
    if len(argv) % 2:
        raise SystemExit("fetch-loras: expected pairs of <source> <directory>")
    for i in range(0, len(argv), 2):
        fetch(argv[i], argv[i + 1])


if __name__ == "__main__":
    main(sys.argv[1:])
