// MITRE ATT&CK for ICS: technique ids → names and tactics, so an alert can
// say what its technique means without a network lookup. Names are those of
// the ICS matrix at attack.mitre.org (v17/v18). Ids revoked or deprecated by
// MITRE (e.g. T0875 "Change Program State", T0876) are not listed; an unknown
// id is shown as the bare id. Version 18 (Oct 2025) folded T0855 and T0856
// into T1692 "Unauthorized Message" and T0812/T0891 into T1694; the older ids
// are kept because rules written before still use them.

const T = (name, tactics) => ({name, tactics});

export const TECHNIQUES = {
  T0800: T('Activate Firmware Update Mode', 'Inhibit Response Function'),
  T0801: T('Monitor Process State', 'Collection'),
  T0802: T('Automated Collection', 'Collection'),
  T0803: T('Block Command Message', 'Inhibit Response Function'),
  T0804: T('Block Reporting Message', 'Inhibit Response Function'),
  T0805: T('Block Serial COM', 'Inhibit Response Function'),
  T0806: T('Brute Force I/O', 'Impair Process Control'),
  T0807: T('Command-Line Interface', 'Execution'),
  T0809: T('Data Destruction', 'Inhibit Response Function'),
  T0811: T('Data from Information Repositories', 'Collection'),
  T0812: T('Default Credentials', 'Lateral Movement'),
  T0813: T('Denial of Control', 'Impact'),
  T0814: T('Denial of Service', 'Inhibit Response Function'),
  T0815: T('Denial of View', 'Impact'),
  T0816: T('Device Restart/Shutdown', 'Inhibit Response Function'),
  T0817: T('Drive-by Compromise', 'Initial Access'),
  T0819: T('Exploit Public-Facing Application', 'Initial Access'),
  T0820: T('Exploitation for Evasion', 'Evasion'),
  T0821: T('Modify Controller Tasking', 'Execution'),
  T0822: T('External Remote Services', 'Initial Access'),
  T0823: T('Graphical User Interface', 'Execution'),
  T0826: T('Loss of Availability', 'Impact'),
  T0827: T('Loss of Control', 'Impact'),
  T0828: T('Loss of Productivity and Revenue', 'Impact'),
  T0829: T('Loss of View', 'Impact'),
  T0830: T('Adversary-in-the-Middle', 'Collection'),
  T0831: T('Manipulation of Control', 'Impact'),
  T0832: T('Manipulation of View', 'Impact'),
  T0834: T('Native API', 'Execution'),
  T0835: T('Manipulate I/O Image', 'Inhibit Response Function'),
  T0836: T('Modify Parameter', 'Impair Process Control'),
  T0837: T('Loss of Protection', 'Impact'),
  T0838: T('Modify Alarm Settings', 'Inhibit Response Function'),
  T0839: T('Module Firmware', 'Persistence, Impair Process Control'),
  T0840: T('Network Connection Enumeration', 'Discovery'),
  T0842: T('Network Sniffing', 'Discovery'),
  T0843: T('Program Download', 'Lateral Movement'),
  'T0843.001': T('Program Download: Download All', 'Lateral Movement'),
  'T0843.002': T('Program Download: Online Edit', 'Lateral Movement'),
  'T0843.003': T('Program Download: Program Append', 'Lateral Movement'),
  T0845: T('Program Upload', 'Collection'),
  T0846: T('Remote System Discovery', 'Discovery'),
  'T0846.001': T('Remote System Discovery: Port Scan', 'Discovery'),
  'T0846.002': T('Remote System Discovery: Broadcast Discovery', 'Discovery'),
  'T0846.003': T('Remote System Discovery: Multicast Discovery', 'Discovery'),
  T0847: T('Replication Through Removable Media', 'Initial Access'),
  T0848: T('Rogue Master', 'Initial Access'),
  T0849: T('Masquerading', 'Evasion'),
  T0851: T('Rootkit', 'Evasion, Inhibit Response Function'),
  T0852: T('Screen Capture', 'Collection'),
  T0853: T('Scripting', 'Execution'),
  T0855: T('Unauthorized Command Message', 'Impair Process Control'),
  T0856: T('Spoof Reporting Message', 'Evasion, Impair Process Control'),
  T0857: T('System Firmware', 'Persistence, Inhibit Response Function'),
  T0858: T('Change Operating Mode', 'Execution, Evasion'),
  T0859: T('Valid Accounts', 'Persistence, Lateral Movement'),
  T0860: T('Wireless Compromise', 'Initial Access'),
  T0861: T('Point & Tag Identification', 'Collection'),
  T0862: T('Supply Chain Compromise', 'Initial Access'),
  T0863: T('User Execution', 'Execution'),
  T0864: T('Transient Cyber Asset', 'Initial Access'),
  T0865: T('Spearphishing Attachment', 'Initial Access'),
  T0866: T('Exploitation of Remote Services', 'Initial Access, Lateral Movement'),
  T0867: T('Lateral Tool Transfer', 'Lateral Movement'),
  T0868: T('Detect Operating Mode', 'Collection'),
  T0869: T('Standard Application Layer Protocol', 'Command and Control'),
  T0871: T('Execution through API', 'Execution'),
  T0872: T('Indicator Removal on Host', 'Evasion'),
  T0873: T('Project File Infection', 'Persistence'),
  T0874: T('Hooking', 'Execution, Privilege Escalation'),
  T0877: T('I/O Image', 'Collection'),
  T0878: T('Alarm Suppression', 'Inhibit Response Function'),
  T0879: T('Damage to Property', 'Impact'),
  T0880: T('Loss of Safety', 'Impact'),
  T0881: T('Service Stop', 'Inhibit Response Function'),
  T0882: T('Theft of Operational Information', 'Impact'),
  T0883: T('Internet Accessible Device', 'Initial Access'),
  T0884: T('Connection Proxy', 'Command and Control'),
  T0885: T('Commonly Used Port', 'Command and Control'),
  T0886: T('Remote Services', 'Initial Access, Lateral Movement'),
  T0887: T('Wireless Sniffing', 'Discovery, Collection'),
  T0888: T('Remote System Information Discovery', 'Discovery'),
  T0889: T('Modify Program', 'Persistence'),
  T0890: T('Exploitation for Privilege Escalation', 'Privilege Escalation'),
  T0891: T('Hardcoded Credentials', 'Lateral Movement, Persistence'),
  T0892: T('Change Credential', 'Inhibit Response Function'),
  T0893: T('Data from Local System', 'Collection'),
  T0894: T('System Binary Proxy Execution', 'Evasion'),
  T0895: T('Autorun Image', 'Execution'),
  T1692: T('Unauthorized Message', 'Evasion, Impair Process Control'),
  'T1692.001': T('Unauthorized Message: Command Message', 'Impair Process Control'),
  T1694: T('Insecure Credentials', 'Lateral Movement'),
  'T1694.001': T('Insecure Credentials: Default Credentials', 'Lateral Movement'),
  'T1694.002': T('Insecure Credentials: Hardcoded Credentials', 'Lateral Movement'),
};

/** The technique of an id, or null. */
export function technique(id) {
  return TECHNIQUES[String(id || '').toUpperCase()] || null;
}

/** The attack.mitre.org page of a technique id (or null for a malformed id). */
export function techniqueUrl(id) {
  const m = /^T(\d{4})(?:\.(\d{3}))?$/.exec(String(id || '').toUpperCase());
  if (!m) return null;
  return `https://attack.mitre.org/techniques/T${m[1]}/${m[2] ? `${m[2]}/` : ''}`;
}
