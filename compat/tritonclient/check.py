"""Compatibility check: the real `tritonclient[http]` client against `versa serve`.

Calls server liveness/readiness, model metadata and readiness, and infer with
JSON tensors (one input per raw field), and checks the answers agree with
versa's native predict API. Prints `N passed, M failed`; exits 1 on failure.
"""

import json
import sys
import urllib.request

import numpy as np
import tritonclient.http as httpclient

URL = sys.argv[1]  # host:port
CUSTOMER = {
    "age": 41, "income": 52.5, "debt": 20.1, "tenure_months": 3,
    "monthly_charges": 99.5, "support_calls": 6, "last_login_days": 30,
    "contract": "month-to-month", "plan": "basic", "region": "north",
}
DATATYPE_TO_NUMPY = {"INT64": np.int64, "FP64": np.float64, "BOOL": np.bool_, "BYTES": np.object_}

results = []


def check(name, condition, detail=None):
    results.append(bool(condition))
    suffix = f": {detail!r}" if detail is not None and not condition else ""
    print(("ok   " if condition else "FAIL ") + name + suffix, flush=True)


client = httpclient.InferenceServerClient(url=URL)
check("server is live", client.is_server_live())
check("server is ready", client.is_server_ready())
server = client.get_server_metadata()
check("server metadata names versa", server.get("name") == "versa", server)

meta = client.get_model_metadata("churn")
check("model metadata lists versions 1 and 2", meta.get("versions") == ["1", "2"], meta)
inputs_meta = {i["name"]: i for i in meta["inputs"]}
check("model metadata has the 10 raw fields", len(inputs_meta) == 10, inputs_meta)
check("model is ready", client.is_model_ready("churn"))
check("version 1 is ready", client.is_model_ready("churn", "1"))
check("an unknown model is not ready", not client.is_model_ready("no-such-model"))

rows = [CUSTOMER, dict(CUSTOMER, tenure_months=60, contract="two-year", support_calls=0)]
inputs = []
for name, spec in inputs_meta.items():
    values = np.array([[row[name]] for row in rows], dtype=DATATYPE_TO_NUMPY[spec["datatype"]])
    tensor = httpclient.InferInput(name, [len(rows), 1], spec["datatype"])
    tensor.set_data_from_numpy(values, binary_data=False)
    inputs.append(tensor)
outputs = [
    httpclient.InferRequestedOutput("label", binary_data=False),
    httpclient.InferRequestedOutput("probabilities", binary_data=False),
]
result = client.infer("churn", inputs, outputs=outputs, request_id="compat-1")
labels = [x.decode() if isinstance(x, bytes) else x for x in result.as_numpy("label").tolist()]
probabilities = result.as_numpy("probabilities")
check("infer returns one label per row", len(labels) == 2 and set(labels) <= {"yes", "no"}, labels)
check("infer returns probabilities [2, 2] summing to 1",
      probabilities.shape == (2, 2) and np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5), probabilities)
response = result.get_response()
check("infer names the deployed version", response.get("model_version") == "2", response)
check("infer echoes the request id", response.get("id") == "compat-1", response)

request = urllib.request.Request(
    f"http://{URL}/v1/models/churn@production/predict",
    data=json.dumps({"rows": rows}).encode(), headers={"content-type": "application/json"},
)
native = json.load(urllib.request.urlopen(request))
check("infer agrees with the native API", [p["label"] for p in native["predictions"]] == labels, native)

versioned = client.infer("churn", inputs, model_version="1", outputs=outputs)
check("infer on version 1 is answered by version 1", versioned.get_response().get("model_version") == "1")

try:
    client.infer("no-such-model", inputs, outputs=outputs)
    check("an unknown model is refused", False, "no error raised")
except Exception as error:  # tritonclient raises InferenceServerException
    check("an unknown model is refused with a message", "no-such-model" in str(error), str(error))

passed, failed = sum(results), len(results) - sum(results)
print(f"tritonclient: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
