#include "core/limits_resolver.h"

namespace ubc {

const char* LimitsSourceName(LimitsSource source) {
  switch (source) {
    case LimitsSource::kAnnotation:
      return "annotation";
    case LimitsSource::kConfigFile:
      return "config-file";
    case LimitsSource::kDefault:
      return "default";
    case LimitsSource::kApi:
      return "api";
  }
  return "unknown";
}

ResolvedLimits ResolveLimits(const UbcAnnotations& annotations, const ContainerConfig* matched_file,
                             const SupervisorConfig& supervisor) {
  ResolvedLimits out;
  if (annotations.privvmpages) {
    out.privvmpages = *annotations.privvmpages;
    out.privvmpages_source = LimitsSource::kAnnotation;
    out.privvmpages_source_detail = kPrivvmpagesAnnotation;
  } else if (matched_file != nullptr && matched_file->privvmpages) {
    out.privvmpages = *matched_file->privvmpages;
    out.privvmpages_source = LimitsSource::kConfigFile;
    out.privvmpages_source_detail = matched_file->source_path;
  } else {
    out.privvmpages = supervisor.default_privvmpages;
    out.privvmpages_source = LimitsSource::kDefault;
    out.privvmpages_source_detail = "default";
  }

  if (annotations.shmpages) {
    out.shmpages = *annotations.shmpages;
    out.shmpages_source = LimitsSource::kAnnotation;
    out.shmpages_source_detail = kShmpagesAnnotation;
  } else if (matched_file != nullptr && matched_file->shmpages) {
    out.shmpages = *matched_file->shmpages;
    out.shmpages_source = LimitsSource::kConfigFile;
    out.shmpages_source_detail = matched_file->source_path;
  } else {
    out.shmpages = supervisor.default_shmpages;
    out.shmpages_source = LimitsSource::kDefault;
    out.shmpages_source_detail = "default";
  }

  if (annotations.numproc) {
    out.numproc = *annotations.numproc;
    out.numproc_source = LimitsSource::kAnnotation;
    out.numproc_source_detail = kNumprocAnnotation;
  } else if (matched_file != nullptr && matched_file->numproc) {
    out.numproc = *matched_file->numproc;
    out.numproc_source = LimitsSource::kConfigFile;
    out.numproc_source_detail = matched_file->source_path;
  } else {
    out.numproc = supervisor.default_numproc;
    out.numproc_source = LimitsSource::kDefault;
    out.numproc_source_detail = "default";
  }

  if (annotations.lockedpages) {
    out.lockedpages = *annotations.lockedpages;
    out.lockedpages_source = LimitsSource::kAnnotation;
    out.lockedpages_source_detail = kLockedpagesAnnotation;
  } else if (matched_file != nullptr && matched_file->lockedpages) {
    out.lockedpages = *matched_file->lockedpages;
    out.lockedpages_source = LimitsSource::kConfigFile;
    out.lockedpages_source_detail = matched_file->source_path;
  } else {
    out.lockedpages = supervisor.default_lockedpages;
    out.lockedpages_source = LimitsSource::kDefault;
    out.lockedpages_source_detail = "default";
  }

  if (annotations.meminfo) {
    out.meminfo = *annotations.meminfo;
    out.meminfo_source = LimitsSource::kAnnotation;
    out.meminfo_source_detail = kMeminfoAnnotation;
  } else if (matched_file != nullptr && matched_file->meminfo) {
    out.meminfo = *matched_file->meminfo;
    out.meminfo_source = LimitsSource::kConfigFile;
    out.meminfo_source_detail = matched_file->source_path;
  } else {
    out.meminfo = supervisor.default_meminfo;
    out.meminfo_source = LimitsSource::kDefault;
    out.meminfo_source_detail = "default";
  }

  if (annotations.profile != nullptr) {
    out.profile = annotations.profile;
    out.profile_source = LimitsSource::kAnnotation;
    out.profile_source_detail = kProfileAnnotation;
  } else if (matched_file != nullptr && matched_file->profile != nullptr) {
    out.profile = matched_file->profile;
    out.profile_source = LimitsSource::kConfigFile;
    out.profile_source_detail = matched_file->source_path;
  } else {
    out.profile =
        supervisor.default_profile != nullptr ? supervisor.default_profile : &DefaultRuleProfile();
    out.profile_source = LimitsSource::kDefault;
    out.profile_source_detail = "default";
  }
  if (annotations.on_error) {
    out.on_error = *annotations.on_error;
    out.on_error_source = LimitsSource::kAnnotation;
  } else if (matched_file != nullptr && matched_file->on_error) {
    out.on_error = *matched_file->on_error;
    out.on_error_source = LimitsSource::kConfigFile;
  } else {
    out.on_error = supervisor.default_on_error;
  }
  return out;
}

}  // namespace ubc
