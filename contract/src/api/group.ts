/** The API group and version every Breakwater kind belongs to. */
export const API_GROUP = 'breakwater.dev';
export const API_VERSION = 'v1alpha1';
export const GROUP_VERSION = `${API_GROUP}/${API_VERSION}` as const;
/** `kubectl get breakwater` lists every Breakwater resource. */
export const API_CATEGORY = 'breakwater';
