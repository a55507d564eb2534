// Writing declared state back as a file (issue 15: `tenantsync export`), in the layout
// ParseDeclared reads, so that parse(emit(state)) == state and `export` then `apply --plan`
// shows "No changes.".
//
// YAML goes through yaml-cpp's emitter, which only emit.cpp includes (a heavy header, as
// yaml_tree.cpp is the only reader). Output is deterministic: entities by external_id, set-valued
// lists in their canonical order, keys in a fixed order, so two exports of one state are equal
// byte for byte. Nothing here throws.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "common/status.h"
#include "daemon/declared/declared.h"

namespace tenantsync::declared {

// Auth0 ids by external id, written as the read-only `auth0_id` key (ParseDeclared accepts a
// string there and ignores it: it is never compared nor sent).
struct Auth0Ids {
  std::map<std::string, std::string> organizations;
  std::map<std::string, std::string> users;
};

// The file `tenantsync export --format yaml|json` writes:
//   organizations: [{external_id, auth0_id?, name, display_name?, metadata?, branding?,
//                    connections?, callback_urls?}]
//   users: [{external_id, auth0_id?, email, name?, given_name?, family_name?, app_metadata?,
//            user_metadata?, blocked?, organizations?: [{external_id, roles?}]}]
// A field that is absent, empty or false is left out (a file's "left out" means "none");
// `auth0_id` only when `ids` knows one. Users who left (`left`) are not written: they are no
// longer declared, and a file declaring them would bring them back.
// kPermanent only if the YAML emitter fails (it should not).
Result<std::string> EmitDeclared(const DeclaredState& state, FileFormat format,
                                 const Auth0Ids& ids = {});

// The same document as ordered JSON (the keys in the order above).
nlohmann::ordered_json DeclaredDocument(const DeclaredState& state, const Auth0Ids& ids = {});

// Block-style YAML of a JSON document, keys in their given order. A string that the YAML 1.2
// core schema would read as something else (`"true"`, `"1"`, `""`, `"null"`, `"0x1F"`, ...) is
// double-quoted; numbers are written as nlohmann::json prints them (shortest round trip).
Result<std::string> YamlText(const nlohmann::ordered_json& document);

// nlohmann::json → nlohmann::ordered_json (objects keep json's sorted key order).
nlohmann::ordered_json Ordered(const nlohmann::json& value);

}  // namespace tenantsync::declared
