# The examples of the Joblet SDK reference (seed 003), run against Titan with their import changed
# (`from joblet import ...` -> `from titan_sdk.joblet import ...`) and the reference's placeholders
# ("job-uuid-here") filled with the ids the earlier examples got. Left out, as docs/joblet.md says: networks
# (Titan does not isolate them), runtime installation and test_runtime (runtimes are configured on workers),
# and the endless metric stream (one sample is taken instead). JOBLET_HOST/JOBLET_PORT name the broker.
import os

from titan_sdk.joblet import JobletClient, JobNotFoundError, ConnectionError, JobletException  # was: joblet

client = JobletClient(
    host=os.getenv('JOBLET_HOST', 'localhost'),
    port=int(os.getenv('JOBLET_PORT', '50051')),
    ca_cert_path=os.getenv('JOBLET_CA_CERT_PATH'),
    client_cert_path=os.getenv('JOBLET_CLIENT_CERT_PATH'),
    client_key_path=os.getenv('JOBLET_CLIENT_KEY_PATH')
)

# health_check()
if client.health_check():
    print("🎉 Server is ready to go!")
else:
    print("😞 Server seems to be having issues")

# run_job(): simple job
job = client.jobs.run_job(
    command="echo",
    args=["Hello, World!"],
    name="my-first-job"
)
print(f"Job started: {job['job_uuid']}")
first_job = job['job_uuid']

# Create storage for data processing (VolumeService)
volume = client.volumes.create_volume(
    name="data-storage",
    size="5GB",
    volume_type="filesystem"
)
print(f"💾 Created volume: {volume['name']} at {volume['path']}")
client.volumes.create_volume(name="output", size="1GB", volume_type="filesystem")

# Data processing with proper limits
job = client.jobs.run_job(
    command="python",
    args=["process_data.py", "--batch-size", "1000"],
    name="data-processing",
    max_memory=2048,  # 2GB should be enough
    max_cpu=80,       # Don't use more than 80% CPU
    runtime="python-3.11-ml",  # Use the ML runtime
    environment={"LOG_LEVEL": "INFO"},
    secret_environment={"API_KEY": "super-secret"},
    volumes=["data-storage:/data", "output:/results"]
)
data_job = job['job_uuid']

# Upload files and run them
uploads = [
    {
        "path": "script.py",
        "content": b"print('Hello from uploaded script!')",
        "mode": 0o755  # Make it executable
    }
]
job = client.jobs.run_job(
    command="python",
    args=["script.py"],
    uploads=uploads,
    name="uploaded-script"
)
uploaded_job = job['job_uuid']

# get_job_status()
status = client.jobs.get_job_status(first_job)
print(f"Job is: {status['status']}")
if status['status'] == 'completed':
    if status['exit_code'] == 0:
        print("🎉 Success!")
    else:
        print(f"😞 Failed with exit code {status['exit_code']}")
elif status['status'] == 'running':
    print("🔄 Still working on it...")

# get_job_logs()
print("📄 Job logs:")
try:
    for log_chunk in client.jobs.get_job_logs(uploaded_job):
        print(log_chunk.decode('utf-8'), end='')
except KeyboardInterrupt:
    print("\n👋 Stopped watching logs")

# list_jobs()
jobs = client.jobs.list_jobs()
print(f"Found {len(jobs)} jobs:")
for job in jobs:
    status_emoji = {
        'completed': '✅',
        'running': '🔄',
        'failed': '❌',
        'pending': '⏳'
    }.get(job['status'], '❓')
    print(f"  {status_emoji} {job['name']}: {job['status']}")

# stop_job()
result = client.jobs.stop_job(data_job)
print(f"Stopped job: {result['status']}")

# delete_job()
result = client.jobs.delete_job(first_job)
if result['success']:
    print("Job deleted!")
else:
    print(f"Couldn't delete: {result['message']}")

# run_workflow()
workflow_yaml = """
version: "1.0"
name: "data-pipeline"
jobs:
  - name: "extract"
    command: "python"
    args: ["extract.py"]
    runtime: "python-3.11"

  - name: "transform"
    command: "python"
    args: ["transform.py"]
    depends_on: ["extract"]  # Wait for extract to finish!

  - name: "load"
    command: "python"
    args: ["load.py"]
    depends_on: ["transform"]  # Then wait for transform
"""
workflow = client.jobs.run_workflow(
    workflow="my-data-pipeline",
    yaml_content=workflow_yaml
)
print(f"🚀 Workflow started: {workflow['workflow_uuid']}")
print(client.jobs.get_workflow_status(workflow['workflow_uuid'])['status'])
print(len(client.jobs.list_workflows(include_completed=True)), "workflows")
print(len(client.jobs.get_workflow_jobs(workflow['workflow_uuid'])), "workflow jobs")

# list_volumes() / remove_volume()
volumes = client.volumes.list_volumes()
for vol in volumes:
    print(f"💾 {vol['name']}: {vol['size']} ({vol['type']}) - {vol['job_count']} jobs using it")
temp_volume = client.volumes.create_volume(
    name="temp-cache",
    size="1GB",
    volume_type="memory"  # Super fast but gone when job ends
)
result = client.volumes.remove_volume("temp-cache")
if result['success']:
    print("🗑️ Volume deleted!")
else:
    print(f"Couldn't delete: {result['message']}")

# MonitoringService
status = client.monitoring.get_system_status()
print(f"🖥️  System Status:")
print(f"   CPU: {status['cpu']['usage_percent']:.1f}%")
print(f"   Memory: {status['memory']['usage_percent']:.1f}%")
print(f"   Available: {'Yes' if status['available'] else 'No'}")
for disk in status['disks']:
    print(f"   Disk {disk['device']}: {disk['usage_percent']:.1f}% used")
for process in status['processes']['top_by_cpu'][:3]:
    print(f"   Top CPU: {process['name']} ({process['cpu_percent']:.1f}%)")
for metrics in client.monitoring.stream_system_metrics(interval_seconds=2):
    cpu = metrics['cpu']['usage_percent']
    memory = metrics['memory']['usage_percent']
    timestamp = metrics['timestamp']
    print(f"\r⏰ {timestamp} | CPU: {cpu:5.1f}% | Memory: {memory:5.1f}%")
    break  # the reference streams until Ctrl-C

# RuntimeService
runtimes = client.runtimes.list_runtimes()
print("🚀 Available runtimes:")
for runtime in runtimes:
    status = "✅" if runtime['available'] else "❌"
    print(f"  {status} {runtime['name']}: {runtime['language']} {runtime['version']}")
    if runtime['packages']:
        print(f"     📦 Includes: {', '.join(runtime['packages'][:3])}...")
info = client.runtimes.get_runtime_info("python-3.11-ml")
print(f"📋 {info['runtime']['name']}")
print(f"   Language: {info['runtime']['language']} {info['runtime']['version']}")
print(f"   Size: {info['runtime']['size_bytes'] / 1024 / 1024:.1f} MB")
print(f"   Packages: {len(info['runtime']['packages'])} installed")

# Exceptions
try:
    with JobletClient(
        host=os.getenv('JOBLET_HOST', 'localhost'),
        port=int(os.getenv('JOBLET_PORT', '50051')),
    ) as client2:
        job = client2.jobs.get_job_status("some-job-uuid")
        print(f"Job status: {job['status']}")
except JobNotFoundError:
    print("🤷 That job doesn't exist - maybe it was deleted?")
except ConnectionError as e:
    print(f"🌐 Can't connect to server: {e}")
except JobletException as e:
    print(f"💥 Something else went wrong: {e}")

client.close()
print("ALL EXAMPLES RAN")
