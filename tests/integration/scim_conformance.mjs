// Independent conformance check of tenantsync's SCIM answers (issue 18): every resource, list and
// error the daemon answered is validated against RFC 7643's schemas by the npm package scimmy
// (https://github.com/scimmyjs/scimmy), installed by scim_e2e_test into a temp directory next
// to this script's copy. Input: a JSON file [{"kind": "User"|"Group"|"ListUser"|"ListGroup"|
// "Error"|"ServiceProviderConfig"|"ResourceTypes"|"Schemas"|"BulkResponse", "what": label,
// "body": answer}]. Prints one line per failure and exits 1 if any failed, else prints the count.
import fs from "node:fs";
import SCIMMY from "scimmy";

SCIMMY.Schemas.User.extend(SCIMMY.Schemas.EnterpriseUser, false);

const answers = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
let failures = 0;
const fail = (a, why) => {
  failures++;
  console.log(`FAIL ${a.kind} ${a.what}: ${why}`);
};

function checkMeta(a, resource, type) {
  const m = resource.meta;
  if (!m || m.resourceType !== type) return fail(a, `meta.resourceType must be ${type}`);
  for (const k of ["created", "lastModified"]) {
    if (Number.isNaN(Date.parse(m[k]))) fail(a, `meta.${k} is not a date: ${m[k]}`);
  }
  if (typeof m.location !== "string" || !m.location.endsWith("/" + resource.id))
    fail(a, "meta.location must end with the id");
  if (typeof resource.id !== "string" || !resource.id) fail(a, "id missing");
}

function checkResource(a, body, type) {
  const schema = type === "User" ? SCIMMY.Schemas.User : SCIMMY.Schemas.Group;
  // "out": validates the answer as a service provider sends it (types, required attributes,
  // returned/mutability rules, schema URNs of the extension).
  new schema(body, "out");
  checkMeta(a, body, type);
  if (JSON.stringify(body).includes("password")) fail(a, "a password attribute was returned");
}

function checkList(a, body, type) {
  const list = new SCIMMY.Messages.ListResponse(body);
  if (list.totalResults < body.Resources.length) fail(a, "totalResults below the page size");
  for (const r of body.Resources ?? []) checkResource(a, r, type);
}

for (const a of answers) {
  try {
    switch (a.kind) {
      case "User":
      case "Group":
        checkResource(a, a.body, a.kind);
        break;
      case "ListUser":
        checkList(a, a.body, "User");
        break;
      case "ListGroup":
        checkList(a, a.body, "Group");
        break;
      case "Error": {
        const {schemas, status, scimType, detail} = a.body;
        if (JSON.stringify(schemas) !== JSON.stringify(["urn:ietf:params:scim:api:messages:2.0:Error"]))
          fail(a, "schemas must be exactly the Error URN");
        if (typeof status !== "string") fail(a, "status must be a string");
        // Validates the status code and the scimType allowed with it (RFC 7644 §3.12).
        new SCIMMY.Messages.ErrorResponse({status: Number(status), scimType, detail});
        break;
      }
      case "ServiceProviderConfig":
        SCIMMY.Schemas.ServiceProviderConfig.definition.coerce(a.body, "out");
        break;
      case "ResourceTypes":
        new SCIMMY.Messages.ListResponse(a.body);
        for (const r of a.body.Resources) SCIMMY.Schemas.ResourceType.definition.coerce(r, "out");
        break;
      case "Schemas": {
        new SCIMMY.Messages.ListResponse(a.body);
        const ids = a.body.Resources.map((s) => s.id);
        for (const want of [SCIMMY.Schemas.User.definition.id, SCIMMY.Schemas.Group.definition.id,
                            SCIMMY.Schemas.EnterpriseUser.definition.id])
          if (!ids.includes(want)) fail(a, `schema ${want} missing`);
        for (const s of a.body.Resources)
          for (const attr of s.attributes)
            for (const k of ["name", "type", "multiValued", "required", "mutability", "returned"])
              if (!(k in attr)) fail(a, `${s.id} attribute ${attr.name} lacks ${k}`);
        break;
      }
      case "BulkResponse": {
        if (!a.body.schemas?.includes("urn:ietf:params:scim:api:messages:2.0:BulkResponse"))
          fail(a, "schemas must hold the BulkResponse URN");
        for (const op of a.body.Operations) {
          if (typeof op.status !== "string") fail(a, "operation status must be a string");
          if (op.response) new SCIMMY.Messages.ErrorResponse({status: Number(op.status),
                                                              scimType: op.response.scimType,
                                                              detail: op.response.detail});
        }
        break;
      }
      default:
        fail(a, "unknown kind");
    }
  } catch (e) {
    fail(a, e.message);
  }
}
if (failures) process.exit(1);
console.log(`scimmy: ${answers.length} answers conform`);
