//! IEC 60870-5-101/104 code points: ASDU type identifications (IEC
//! 60870-5-101 clause 7.2.1 and IEC 60870-5-104 clause 8) and causes of
//! transmission (clause 7.2.3).

crate::open_enum! {
    /// ASDU type identification, named by its standard mnemonic.
    pub enum TypeId: u8 {
        /// 1: single-point information.
        MSpNa1 = 1 => "M_SP_NA_1",
        /// 2: single-point information with CP24 time.
        MSpTa1 = 2 => "M_SP_TA_1",
        /// 3: double-point information.
        MDpNa1 = 3 => "M_DP_NA_1",
        /// 4: double-point information with CP24 time.
        MDpTa1 = 4 => "M_DP_TA_1",
        /// 5: step position information.
        MStNa1 = 5 => "M_ST_NA_1",
        /// 6: step position information with CP24 time.
        MStTa1 = 6 => "M_ST_TA_1",
        /// 7: bitstring of 32 bits.
        MBoNa1 = 7 => "M_BO_NA_1",
        /// 8: bitstring of 32 bits with CP24 time.
        MBoTa1 = 8 => "M_BO_TA_1",
        /// 9: measured value, normalised.
        MMeNa1 = 9 => "M_ME_NA_1",
        /// 10: measured value, normalised, with CP24 time.
        MMeTa1 = 10 => "M_ME_TA_1",
        /// 11: measured value, scaled.
        MMeNb1 = 11 => "M_ME_NB_1",
        /// 12: measured value, scaled, with CP24 time.
        MMeTb1 = 12 => "M_ME_TB_1",
        /// 13: measured value, short floating point.
        MMeNc1 = 13 => "M_ME_NC_1",
        /// 14: measured value, short floating point, with CP24 time.
        MMeTc1 = 14 => "M_ME_TC_1",
        /// 15: integrated totals.
        MItNa1 = 15 => "M_IT_NA_1",
        /// 16: integrated totals with CP24 time.
        MItTa1 = 16 => "M_IT_TA_1",
        /// 17: event of protection equipment with CP24 time.
        MEpTa1 = 17 => "M_EP_TA_1",
        /// 18: packed start events of protection equipment with CP24 time.
        MEpTb1 = 18 => "M_EP_TB_1",
        /// 19: packed output circuit information of protection equipment with CP24 time.
        MEpTc1 = 19 => "M_EP_TC_1",
        /// 20: packed single-point information with status change detection.
        MPsNa1 = 20 => "M_PS_NA_1",
        /// 21: measured value, normalised, without quality descriptor.
        MMeNd1 = 21 => "M_ME_ND_1",
        /// 30: single-point information with CP56 time.
        MSpTb1 = 30 => "M_SP_TB_1",
        /// 31: double-point information with CP56 time.
        MDpTb1 = 31 => "M_DP_TB_1",
        /// 32: step position information with CP56 time.
        MStTb1 = 32 => "M_ST_TB_1",
        /// 33: bitstring of 32 bits with CP56 time.
        MBoTb1 = 33 => "M_BO_TB_1",
        /// 34: measured value, normalised, with CP56 time.
        MMeTd1 = 34 => "M_ME_TD_1",
        /// 35: measured value, scaled, with CP56 time.
        MMeTe1 = 35 => "M_ME_TE_1",
        /// 36: measured value, short floating point, with CP56 time.
        MMeTf1 = 36 => "M_ME_TF_1",
        /// 37: integrated totals with CP56 time.
        MItTb1 = 37 => "M_IT_TB_1",
        /// 38: event of protection equipment with CP56 time.
        MEpTd1 = 38 => "M_EP_TD_1",
        /// 39: packed start events of protection equipment with CP56 time.
        MEpTe1 = 39 => "M_EP_TE_1",
        /// 40: packed output circuit information of protection equipment with CP56 time.
        MEpTf1 = 40 => "M_EP_TF_1",
        /// 45: single command.
        CScNa1 = 45 => "C_SC_NA_1",
        /// 46: double command.
        CDcNa1 = 46 => "C_DC_NA_1",
        /// 47: regulating step command.
        CRcNa1 = 47 => "C_RC_NA_1",
        /// 48: set point command, normalised value.
        CSeNa1 = 48 => "C_SE_NA_1",
        /// 49: set point command, scaled value.
        CSeNb1 = 49 => "C_SE_NB_1",
        /// 50: set point command, short floating point value.
        CSeNc1 = 50 => "C_SE_NC_1",
        /// 51: bitstring of 32 bits command.
        CBoNa1 = 51 => "C_BO_NA_1",
        /// 58: single command with CP56 time.
        CScTa1 = 58 => "C_SC_TA_1",
        /// 59: double command with CP56 time.
        CDcTa1 = 59 => "C_DC_TA_1",
        /// 60: regulating step command with CP56 time.
        CRcTa1 = 60 => "C_RC_TA_1",
        /// 61: set point command, normalised value, with CP56 time.
        CSeTa1 = 61 => "C_SE_TA_1",
        /// 62: set point command, scaled value, with CP56 time.
        CSeTb1 = 62 => "C_SE_TB_1",
        /// 63: set point command, short floating point value, with CP56 time.
        CSeTc1 = 63 => "C_SE_TC_1",
        /// 64: bitstring of 32 bits command with CP56 time.
        CBoTa1 = 64 => "C_BO_TA_1",
        /// 70: end of initialisation.
        MEiNa1 = 70 => "M_EI_NA_1",
        /// 100: interrogation command.
        CIcNa1 = 100 => "C_IC_NA_1",
        /// 101: counter interrogation command.
        CCiNa1 = 101 => "C_CI_NA_1",
        /// 102: read command.
        CRdNa1 = 102 => "C_RD_NA_1",
        /// 103: clock synchronisation command.
        CCsNa1 = 103 => "C_CS_NA_1",
        /// 104: test command.
        CTsNa1 = 104 => "C_TS_NA_1",
        /// 105: reset process command.
        CRpNa1 = 105 => "C_RP_NA_1",
        /// 106: delay acquisition command.
        CCdNa1 = 106 => "C_CD_NA_1",
        /// 107: test command with CP56 time.
        CTsTa1 = 107 => "C_TS_TA_1",
        /// 110: parameter of measured value, normalised value.
        PMeNa1 = 110 => "P_ME_NA_1",
        /// 111: parameter of measured value, scaled value.
        PMeNb1 = 111 => "P_ME_NB_1",
        /// 112: parameter of measured value, short floating point value.
        PMeNc1 = 112 => "P_ME_NC_1",
        /// 113: parameter activation.
        PAcNa1 = 113 => "P_AC_NA_1",
        /// 120: file ready.
        FFrNa1 = 120 => "F_FR_NA_1",
        /// 121: section ready.
        FSrNa1 = 121 => "F_SR_NA_1",
        /// 122: call directory, select file, call file, call section.
        FScNa1 = 122 => "F_SC_NA_1",
        /// 123: last section, last segment.
        FLsNa1 = 123 => "F_LS_NA_1",
        /// 124: ack file, ack section.
        FAfNa1 = 124 => "F_AF_NA_1",
        /// 125: segment.
        FSgNa1 = 125 => "F_SG_NA_1",
        /// 126: directory.
        FDrTa1 = 126 => "F_DR_TA_1",
        /// 127: query log, request archive file.
        FScNb1 = 127 => "F_SC_NB_1",
    }
}

impl TypeId {
    /// Octets of one information element after its address, for the types
    /// of fixed size (`None` for F_SG_NA_1, whose segment length is in it,
    /// and for unknown types).
    pub fn element_len(self) -> Option<usize> {
        Some(match self {
            TypeId::CRdNa1 => 0,
            TypeId::MSpNa1
            | TypeId::MDpNa1
            | TypeId::CScNa1
            | TypeId::CDcNa1
            | TypeId::CRcNa1
            | TypeId::MEiNa1
            | TypeId::CIcNa1
            | TypeId::CCiNa1
            | TypeId::CRpNa1
            | TypeId::PAcNa1 => 1,
            TypeId::MStNa1 | TypeId::MMeNd1 | TypeId::CTsNa1 | TypeId::CCdNa1 => 2,
            TypeId::MMeNa1
            | TypeId::MMeNb1
            | TypeId::CSeNa1
            | TypeId::CSeNb1
            | TypeId::PMeNa1
            | TypeId::PMeNb1 => 3,
            TypeId::MSpTa1 | TypeId::MDpTa1 | TypeId::CBoNa1 | TypeId::FScNa1 | TypeId::FAfNa1 => 4,
            TypeId::MStTa1
            | TypeId::MBoNa1
            | TypeId::MMeNc1
            | TypeId::MItNa1
            | TypeId::MPsNa1
            | TypeId::CSeNc1
            | TypeId::PMeNc1
            | TypeId::FLsNa1 => 5,
            TypeId::MMeTa1 | TypeId::MMeTb1 | TypeId::MEpTa1 | TypeId::FFrNa1 => 6,
            TypeId::MEpTb1 | TypeId::MEpTc1 | TypeId::CCsNa1 | TypeId::FSrNa1 => 7,
            TypeId::MBoTa1
            | TypeId::MMeTc1
            | TypeId::MItTa1
            | TypeId::MSpTb1
            | TypeId::MDpTb1
            | TypeId::CScTa1
            | TypeId::CDcTa1
            | TypeId::CRcTa1 => 8,
            TypeId::MStTb1 | TypeId::CTsTa1 => 9,
            TypeId::MMeTd1 | TypeId::MMeTe1 | TypeId::MEpTd1 | TypeId::CSeTa1 | TypeId::CSeTb1 => {
                10
            }
            TypeId::MEpTe1 | TypeId::MEpTf1 | TypeId::CBoTa1 => 11,
            TypeId::MBoTb1 | TypeId::MMeTf1 | TypeId::MItTb1 | TypeId::CSeTc1 => 12,
            TypeId::FDrTa1 => 13,
            TypeId::FScNb1 => 16,
            _ => return None,
        })
    }

    /// The time tag that ends each element of the type, if any.
    pub fn time_tag(self) -> Option<TimeTag> {
        match self.raw() {
            2 | 4 | 6 | 8 | 10 | 12 | 14 | 16..=19 => Some(TimeTag::Cp24),
            30..=40 | 58..=64 | 107 => Some(TimeTag::Cp56),
            _ => None,
        }
    }

    /// A standard type of the monitor direction (M_*).
    pub fn is_monitor(self) -> bool {
        matches!(self.raw(), 1..=40 | 70)
    }

    /// A process command (single, double, regulating step, set point,
    /// bitstring), with or without time.
    pub fn is_command(self) -> bool {
        matches!(self.raw(), 45..=51 | 58..=64)
    }

    /// A system command of the control direction (interrogation, read,
    /// clock synchronisation, test, reset process, delay acquisition).
    pub fn is_system(self) -> bool {
        matches!(self.raw(), 100..=107)
    }

    /// A parameter type (P_*).
    pub fn is_parameter(self) -> bool {
        matches!(self.raw(), 110..=113)
    }

    /// A file transfer type (F_*).
    pub fn is_file(self) -> bool {
        matches!(self.raw(), 120..=127)
    }
}

/// The time tags of IEC 60870-5-4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeTag {
    /// Three octets: milliseconds and minute.
    Cp24,
    /// Seven octets: milliseconds to year.
    Cp56,
}

crate::open_enum! {
    /// Cause of transmission (6 bits; the negative and test bits apart).
    pub enum Cause: u8 {
        /// 1: periodic, cyclic.
        Periodic = 1 => "periodic",
        /// 2: background scan.
        BackgroundScan = 2 => "background_scan",
        /// 3: spontaneous.
        Spontaneous = 3 => "spontaneous",
        /// 4: initialized.
        Initialized = 4 => "initialized",
        /// 5: request or requested.
        Request = 5 => "request",
        /// 6: activation.
        Activation = 6 => "activation",
        /// 7: activation confirmation.
        ActivationCon = 7 => "activation_con",
        /// 8: deactivation.
        Deactivation = 8 => "deactivation",
        /// 9: deactivation confirmation.
        DeactivationCon = 9 => "deactivation_con",
        /// 10: activation termination.
        ActivationTerm = 10 => "activation_term",
        /// 11: return information caused by a remote command.
        ReturnRemote = 11 => "return_remote",
        /// 12: return information caused by a local command.
        ReturnLocal = 12 => "return_local",
        /// 13: file transfer.
        FileTransfer = 13 => "file_transfer",
        /// 20: interrogated by station interrogation.
        InterrogatedStation = 20 => "interrogated_station",
        /// 21: interrogated by group 1 interrogation.
        InterrogatedGroup1 = 21 => "interrogated_group_1",
        /// 22: interrogated by group 2 interrogation.
        InterrogatedGroup2 = 22 => "interrogated_group_2",
        /// 23: interrogated by group 3 interrogation.
        InterrogatedGroup3 = 23 => "interrogated_group_3",
        /// 24: interrogated by group 4 interrogation.
        InterrogatedGroup4 = 24 => "interrogated_group_4",
        /// 25: interrogated by group 5 interrogation.
        InterrogatedGroup5 = 25 => "interrogated_group_5",
        /// 26: interrogated by group 6 interrogation.
        InterrogatedGroup6 = 26 => "interrogated_group_6",
        /// 27: interrogated by group 7 interrogation.
        InterrogatedGroup7 = 27 => "interrogated_group_7",
        /// 28: interrogated by group 8 interrogation.
        InterrogatedGroup8 = 28 => "interrogated_group_8",
        /// 29: interrogated by group 9 interrogation.
        InterrogatedGroup9 = 29 => "interrogated_group_9",
        /// 30: interrogated by group 10 interrogation.
        InterrogatedGroup10 = 30 => "interrogated_group_10",
        /// 31: interrogated by group 11 interrogation.
        InterrogatedGroup11 = 31 => "interrogated_group_11",
        /// 32: interrogated by group 12 interrogation.
        InterrogatedGroup12 = 32 => "interrogated_group_12",
        /// 33: interrogated by group 13 interrogation.
        InterrogatedGroup13 = 33 => "interrogated_group_13",
        /// 34: interrogated by group 14 interrogation.
        InterrogatedGroup14 = 34 => "interrogated_group_14",
        /// 35: interrogated by group 15 interrogation.
        InterrogatedGroup15 = 35 => "interrogated_group_15",
        /// 36: interrogated by group 16 interrogation.
        InterrogatedGroup16 = 36 => "interrogated_group_16",
        /// 37: requested by general counter request.
        CounterGeneral = 37 => "counter_general",
        /// 38: requested by group 1 counter request.
        CounterGroup1 = 38 => "counter_group_1",
        /// 39: requested by group 2 counter request.
        CounterGroup2 = 39 => "counter_group_2",
        /// 40: requested by group 3 counter request.
        CounterGroup3 = 40 => "counter_group_3",
        /// 41: requested by group 4 counter request.
        CounterGroup4 = 41 => "counter_group_4",
        /// 44: unknown type identification.
        UnknownTypeId = 44 => "unknown_type_id",
        /// 45: unknown cause of transmission.
        UnknownCause = 45 => "unknown_cause",
        /// 46: unknown common address of ASDU.
        UnknownCommonAddress = 46 => "unknown_common_address",
        /// 47: unknown information object address.
        UnknownIoa = 47 => "unknown_ioa",
    }
}
